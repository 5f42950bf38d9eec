"""A synthetic population of one large member for measuring duplicate matching (docs/matching.md).

People are drawn with UK-like name frequencies (a head of common names, a long tail of rarer
ones), birth dates over seven school years, and households: siblings share a surname and a
postcode (each a first name of its own), twins also a date of birth (their names neither one
letter apart nor a name and its short form). Then a share of the people are registered a second time
with the variants members' records show, at these rates (of the second records):

    exact copy under a new reference 15%   new address 20% (three in five within the same
                                           postcode area)      first-name typo 10%
    nickname or full name 12%              surname typo 10%    surname changed 8% (seven in
                                                               ten at the same address, the
                                                               others in the same sector)
    day and month swapped 8%               one digit of the date of birth wrong 7%
    nickname and new address 5%            first-name typo and new address 5%

write(path, people, duplicate_share, seed, schools) writes a CSV (external_ref, first_name,
last_name, date_of_birth, postcode, and with schools the school's URN: about ten secondary
schools an area, siblings at one; four in five records name it; after a move seven in ten stay
at their school) whose external_ref is "P<person>-<copy>", so the true pairs are known,
and returns ({variant: number of second records}, {"P<person>": variant}).
"""
import random

BOYS = ("Oliver George Harry Jack Jacob Noah Charlie Muhammad Thomas Oscar William James Leo Alfie Henry Joshua Freddie "
        "Archie Ethan Isaac Alexander Joseph Edward Samuel Max Logan Lucas Daniel Theo Arthur Mohammed Harrison "
        "Benjamin Mason Finley Sebastian Adam Dylan Zachary Riley Teddy Theodore David Elijah Jake Toby Louie Reuben "
        "Arlo Hugo Matthew Ryan Tyler Aaron Jayden Kai Luca Nathan Callum Lewis Owen Jamie Kyle Connor Liam Bradley "
        "Aiden Rhys Kian Ibrahim Yusuf Omar Hamza Ayaan Zain Rory Ellis Harley Frankie Stanley Albert Ronnie Jenson "
        "Elliot Jude Ezra Carter Felix Michael Christopher Andrew Robert Richard Peter Patrick Dominic Nicholas").split()
GIRLS = ("Olivia Amelia Isla Ava Emily Isabella Mia Poppy Ella Lily Sophia Grace Evie Jessica Charlotte Freya Sophie "
         "Daisy Alice Florence Ruby Scarlett Chloe Isabelle Phoebe Sienna Matilda Evelyn Ivy Harper Millie Willow "
         "Rosie Elsie Maya Emma Lucy Erin Hannah Layla Eliza Elizabeth Katherine Victoria Rebecca Sarah Zara Aisha "
        "Fatima Maryam Amira Hafsa Zainab Megan Holly Lauren Abigail Amy Bethany Caitlin Leah Niamh Molly Jasmine "
         "Paige Eleanor Georgia Harriet Imogen Martha Nancy Orla Pippa Robyn Tilly Violet Beatrice Clara Esme "
         "Hallie Margot Nina Aria Luna Alexandra Samantha Jennifer Natalie Stephanie Abby Kate Ellie Libby").split()
COMMON_SURNAMES = ("Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson "
                   "Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin "
                   "Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips "
                   "Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey "
                   "Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh "
                   "Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews "
                   "Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray "
                   "Dixon Harvey Ahmed Kaur Nguyen Okafor Kowalski Mahmood Rahman Iqbal Akhtar").split()
SYLLABLES_A = "Ash Black Bram Brook Car Craw Dal Dun Ever Fair Farn Glen Hart Hay Holl Kirk Lang Mar Mor Nor Pen Ros Stan Thorn Wes Whit Win".split()
SYLLABLES_B = "bury by cliffe combe dale den field ford gate ham hurst ley low more ridge shaw stone ton well wick wood worth".split()
NICK = {"Alexander": "Alex", "Alexandra": "Alex", "Benjamin": "Ben", "Charlotte": "Lottie", "Christopher": "Chris",
        "Daniel": "Dan", "Edward": "Ed", "Elizabeth": "Beth", "Frederick": "Fred", "Jacob": "Jake", "James": "Jim",
        "Jennifer": "Jenny", "Jessica": "Jess", "Joseph": "Joe", "Joshua": "Josh", "Katherine": "Kate", "Matthew": "Matt",
        "Michael": "Mike", "Nicholas": "Nick", "Oliver": "Ollie", "Patrick": "Paddy", "Rebecca": "Becky",
        "Richard": "Rick", "Robert": "Rob", "Samuel": "Sam", "Samantha": "Sam", "Thomas": "Tom", "Victoria": "Vicky",
        "William": "Will", "Isabella": "Bella", "Isabelle": "Izzy", "Eleanor": "Ellie", "Abigail": "Abby",
        "Natalie": "Nat", "Stephanie": "Steph", "Theodore": "Theo", "Zachary": "Zach", "Muhammad": "Mohammed",
        "Harrison": "Harry", "Matilda": "Tilly", "Andrew": "Andy", "Peter": "Pete", "Nathan": "Nate"}
AREAS = ["B", "M", "L", "LS", "S", "NE", "BS", "CF", "SW", "E", "N", "NW", "SE", "W", "G", "EH", "BT", "CV", "NG", "LE",
         "BD", "HU", "PL", "SO", "PO", "OX", "CB", "NR", "DE", "ST", "WV", "WS", "DY", "BB", "BL", "OL", "SK", "WA", "CH", "LL"]
UNIT = "ABDEFGHJLNPQRSTUWXYZ"
VARIANTS = [("exact", 15), ("new_address", 20), ("first_typo", 10), ("nickname", 12), ("surname_typo", 10),
            ("surname_changed", 8), ("dob_swapped", 8), ("dob_typo", 7), ("nickname_new_address", 5),
            ("first_typo_new_address", 5)]


def distance(a, b):
    """Levenshtein distance (small strings)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def typo(rng, name):
    """One keyboard-like slip: a letter dropped, doubled, swapped with its neighbour or replaced."""
    i = rng.randrange(1, len(name) - 1) if len(name) > 3 else 1
    kind = rng.randrange(4)
    if kind == 0:
        return name[:i] + name[i + 1:]
    if kind == 1:
        return name[:i] + name[i] + name[i:]
    if kind == 2 and i + 1 < len(name):
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    return name[:i] + rng.choice("aeiourstnl") + name[i + 1:]


class Population:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.rare_surnames = [a + b + e for a in SYLLABLES_A for b in SYLLABLES_B for e in ("", "s", "e", "er")]
        self.first_weights = [1.0 / (r + 1) ** 0.7 for r in range(max(len(BOYS), len(GIRLS)))]
        starts = "Ja Ka Ma Ra Ta Da La Na Sa Ha Ba Ca Fa Ga Za Bre Cae Dre Eli Fin Gwe Ima Jo Ke Lo Me Ni Ro Si Te".split()
        ends_boy = "den son ron vin lan rick mon dan zan ton bert ley rey lo ro".split()
        ends_girl = "na lia ra ya nie lyn belle dee ssa rah tte nna ria ely ya".split()
        self.boy_tail = sorted({a + b for a in starts for b in ends_boy})
        self.girl_tail = sorted({a + b for a in starts for b in ends_girl})
        weights = [1.0 / (r + 1) ** 0.7 for r in range(len(COMMON_SURNAMES))]
        total = sum(weights)
        self.common_cum = []
        acc = 0.0
        for w in weights:
            acc += w / total
            self.common_cum.append(acc)

    def first_name(self):
        # Given names: a head of common ones (the most common about 2.5% of a sex) and a long
        # tail of rarer ones (about 45%).
        boy = self.rng.random() < 0.5
        names, tail = (BOYS, self.boy_tail) if boy else (GIRLS, self.girl_tail)
        if self.rng.random() < 0.45:
            return self.rng.choice(tail)
        return self.rng.choices(names, weights=self.first_weights[:len(names)])[0]

    def surname(self):
        # Surnames: the common ones take about a quarter (Smith about 1.2%), the rest a long tail.
        if self.rng.random() < 0.25:
            x = self.rng.random()
            for name, c in zip(COMMON_SURNAMES, self.common_cum):
                if x <= c:
                    return name
            return COMMON_SURNAMES[-1]
        return self.rng.choice(self.rare_surnames)

    def postcode(self, area=None, district=None):
        area = area or self.rng.choice(AREAS)
        district = district if district is not None else 1 + self.rng.randrange(30)
        return f"{area}{district} {self.rng.randrange(10)}{self.rng.choice(UNIT)}{self.rng.choice(UNIT)}"

    def dob(self):
        return (2005 + self.rng.randrange(7), 1 + self.rng.randrange(12), 1 + self.rng.randrange(28))


def school_of(postcode):
    """The URN of a school near a postcode: about ten an area."""
    area = postcode.split(" ")[0].rstrip("0123456789")
    district = int(postcode.split(" ")[0][len(area):])
    return 100000 + AREAS.index(area) * 10 + district % 10


def write(path, people, duplicate_share=0.05, seed=18, schools=False):
    pop = Population(seed)
    rng = pop.rng
    persons = []
    while len(persons) < people:
        # a household: 1-4 children, a shared surname and postcode; one in 30 has twins
        surname, postcode = pop.surname(), pop.postcode()
        given = set()  # parents give each child a name of its own
        for child in range(rng.choice((1, 1, 2, 2, 2, 3, 3, 4))):
            first, dob = pop.first_name(), pop.dob()
            if first in given:
                continue
            given.add(first)
            persons.append([first, surname, dob, postcode])
            if rng.random() < 1 / 30:
                twin = pop.first_name()
                # (twins' names one letter apart, Jaden and Kaden, are rare: docs/matching.md)
                if twin not in given and distance(twin.lower(), first.lower()) > 1 \
                        and NICK.get(twin) != first and NICK.get(first) != twin:
                    given.add(twin)
                    persons.append([twin, surname, dob, postcode])
    persons = persons[:people]
    counts = {}
    variant_of = {}
    total_w = sum(w for _, w in VARIANTS)
    def school(urn):
        return "" if not schools else "," + (str(urn) if rng.random() < 0.8 else "")

    with open(path, "w") as f:
        f.write("external_ref,first_name,last_name,date_of_birth,postcode" + (",school_urn" if schools else "") + "\n")
        for pid, (first, last, (y, m, d), pc) in enumerate(persons):
            urn = school_of(pc)
            f.write(f"P{pid}-0,{first},{last},{y}-{m:02d}-{d:02d},{pc}{school(urn)}\n")
            if rng.random() >= duplicate_share:
                continue
            x = rng.uniform(0, total_w)
            for variant, w in VARIANTS:
                x -= w
                if x <= 0:
                    break
            f2, l2, (y2, m2, d2), pc2 = first, last, (y, m, d), pc
            if "nickname" in variant:
                if first in NICK:
                    f2 = NICK[first]
                else:
                    variant = variant.replace("nickname", "first_typo")
            if "first_typo" in variant:
                f2 = typo(rng, first)
            if "new_address" in variant:
                # families mostly move nearby: three in five within the same postcode area
                area = pc.split(" ")[0].rstrip("0123456789")
                pc2 = pop.postcode(area=area) if rng.random() < 0.6 else pop.postcode()
            if variant == "surname_typo":
                l2 = typo(rng, last)
            if variant == "surname_changed":
                l2 = pop.surname()
                if rng.random() < 0.3:  # most keep the address; some have moved within the sector
                    pc2 = pc[:-2] + rng.choice(UNIT) + rng.choice(UNIT)
            if variant == "dob_swapped":
                if d <= 12 and d != m:
                    m2, d2 = d, m
                else:
                    variant = "dob_typo"
            if variant == "dob_typo":
                d2 = d + 10 if d <= 18 else d - 10 if d > 10 else d + 1
            counts[variant] = counts.get(variant, 0) + 1
            variant_of[f"P{pid}"] = variant
            urn2 = urn if pc2 == pc or rng.random() < 0.7 else school_of(pc2)
            f.write(f"P{pid}-1,{f2},{l2},{y2}-{m2:02d}-{d2:02d},{pc2}{school(urn2)}\n")
    return counts, variant_of
