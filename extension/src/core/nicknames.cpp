#include "nicknames.hpp"

#include <algorithm>
#include <unordered_map>

namespace outreach::nicknames {

namespace {

// One group per line: the full name first, then its forms (normalised spelling).
const char *const groups[] = {
	"abigail abi abby abbie gail",
	"adam ad",
	"adrian ade",
	"albert al bert bertie",
	"alexander alex alec alexis sandy xander lex",
	"alexandra alex alexa lexi lexie sandra sandy",
	"alfred alf fred freddie",
	"alice ali allie",
	"alison ali allie",
	"amanda mandy manda",
	"amelia amy",
	"andrew andy drew",
	"angela angie",
	"anne ann annie anna",
	"anthony tony ant",
	"archibald archie",
	"arthur art artie",
	"barbara barb babs",
	"benjamin ben benji benny",
	"bradley brad",
	"callum cal",
	"cameron cam",
	"caroline carol carrie caro",
	"catherine cath cathy kate katie kat cat cate",
	"charles charlie chaz chuck chas",
	"charlotte charlie lottie lotte",
	"christina chris christie tina",
	"christine chris chrissie tina",
	"christopher chris kit topher",
	"daniel dan danny",
	"danielle dani",
	"david dave davey davy",
	"deborah debbie deb debra",
	"dominic dom",
	"dorothy dot dottie dolly",
	"edward ed eddie ted teddy ned",
	"eleanor ellie nell nellie elle nora",
	"elizabeth liz lizzie beth betty bess eliza libby lisa elsie",
	"emily em emmy",
	"emma em emmy",
	"eugene gene",
	"frances fran fanny frankie",
	"francis frank frankie",
	"frederick fred freddie freddy",
	"gabriel gabe gabby",
	"gabriella gabby",
	"geoffrey geoff jeff",
	"georgia georgie",
	"george georgie",
	"gerald gerry",
	"gregory greg",
	"harold harry hal",
	"harrison harry",
	"henry harry hal hank",
	"isabel izzy bella isabelle isobel",
	"isabella izzy bella",
	"jacob jake",
	"james jim jimmy jamie jem",
	"jane janey jenny",
	"jennifer jen jenny jenni",
	"jessica jess jessie",
	"john johnny jon",
	"jonathan jon jonny nathan",
	"joseph joe joey jo",
	"josephine jo josie",
	"joshua josh",
	"judith judy jude",
	"katherine kate katie kat kathy kath kay kitty",
	"kathleen kath kathy kate",
	"kenneth ken kenny",
	"kimberley kim kimberly",
	"lawrence larry laurie",
	"leonard leo len lenny",
	"lewis lew lou",
	"louis lou louie",
	"louise lou lulu",
	"lucas luke luca",
	"madeleine maddie maddy madeline",
	"margaret maggie meg peggy marge maisie daisy greta",
	"matilda tilly tilda",
	"matthew matt matty",
	"megan meg",
	"michael mike mick micky mikey mich",
	"michelle shelley chelle",
	"mohammed muhammad mohammad mohamed muhammed mohamad",
	"natalie nat",
	"nathan nate nat",
	"nathaniel nate nat",
	"nicholas nick nicky nico",
	"nicola nicky nikki",
	"oliver olly ollie",
	"olivia liv livvy livia",
	"patricia pat patty trish tricia",
	"patrick pat paddy",
	"penelope penny",
	"peter pete",
	"philip phil pip phillip",
	"rebecca becky becca bex",
	"richard rich rick ricky dick richie",
	"robert rob bob bobby robbie bert",
	"ronald ron ronnie",
	"rosemary rose rosie",
	"samantha sam sammy",
	"samuel sam sammy",
	"sarah sara sally",
	"sebastian seb",
	"sophia sophie",
	"stephanie steph",
	"stephen steve stevie steven",
	"susan sue susie suzy",
	"theodore theo ted teddy",
	"thomas tom tommy",
	"timothy tim timmy",
	"victoria vicky tori vikki",
	"william will bill billy willie",
	"zachary zach zack zak",
};

struct Index {
	std::unordered_map<std::string, std::vector<int>> by_name;
	Index() {
		int g = 0;
		for (const char *line : groups) {
			std::string_view rest(line);
			while (!rest.empty()) {
				const auto sp = rest.find(' ');
				const std::string name(rest.substr(0, sp));
				auto &list = by_name[name];
				if (std::find(list.begin(), list.end(), g) == list.end())
					list.push_back(g);
				if (sp == std::string_view::npos)
					break;
				rest.remove_prefix(sp + 1);
			}
			++g;
		}
	}
};

const Index &index() {
	static const Index i;
	return i;
}

}  // namespace

std::vector<int> groups_of(std::string_view normalised) {
	const auto &by = index().by_name;
	const auto it = by.find(std::string(normalised));
	return it == by.end() ? std::vector<int>{} : it->second;
}

bool same_name(std::string_view a, std::string_view b) {
	if (a == b)
		return true;
	const auto ga = groups_of(a), gb = groups_of(b);
	for (int x : ga)
		if (std::find(gb.begin(), gb.end(), x) != gb.end())
			return true;
	return false;
}

std::size_t group_count() { return sizeof groups / sizeof groups[0]; }

}  // namespace outreach::nicknames
