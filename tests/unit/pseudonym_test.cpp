#include "core/pseudonym.hpp"

#include "test_support.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace ps = outreach::pseudonym;
using outreach::crypto::HmacSha256;
using outreach::keys::KeyRing;
using outreach::test::contains;
using outreach::test::error_from;
using ps::Identifiers;
using ps::PseudoId;

namespace {

const std::string key_1_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string key_2_hex = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

std::string hex(const std::uint8_t *p, std::size_t n) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (std::size_t i = 0; i < n; ++i) {
		out.push_back(digits[p[i] >> 4]);
		out.push_back(digits[p[i] & 15]);
	}
	return out;
}

Identifiers zoe() { return Identifiers{"Zo\xC3\xAB", "O'Brien", {2007, 3, 1}, "sw1a1aa"}; }

PseudoId random_id(std::mt19937_64 &rng, std::int32_t version) {
	PseudoId id;
	id.version = version;
	for (auto &b : id.digest)
		b = static_cast<std::uint8_t>(rng());
	return id;
}

PseudoId id_with(std::int32_t version, std::uint8_t fill) {
	PseudoId id;
	id.version = version;
	id.digest.fill(fill);
	return id;
}

bool same(const PseudoId &a, const PseudoId &b) { return a.version == b.version && a.digest == b.digest; }

// True when from_text rejects text with 22P02; false when it accepts it.
bool rejected(const std::string &text) {
	try {
		ps::from_text(text);
		return false;
	} catch (const outreach::Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22P02") << text;
		return true;
	}
}

constexpr char symbols[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";  // 32 digits + 5 check symbols
constexpr char base32_digits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

}  // namespace

// ---- the signed message --------------------------------------------------------------------

TEST(PseudonymMessage, HasTheDocumentedLayout) {
	const auto msg = ps::message(zoe());
	ASSERT_TRUE(msg.has_value());
	EXPECT_EQ(*msg, std::string("zoe\x1F" "obrien\x1F" "2007-03-01\x1F" "SW1A1AA"));
}

TEST(PseudonymMessage, ZeroPadsTheDate) {
	Identifiers ids = zoe();
	ids.date_of_birth = {987, 1, 2};
	EXPECT_EQ(ps::message(ids).value(), std::string("zoe\x1F" "obrien\x1F" "0987-01-02\x1F" "SW1A1AA"));
}

TEST(PseudonymMessage, UsesTheCanonicalPostcodeWithoutItsSpace) {
	Identifiers ids = zoe();
	ids.postcode = " m1  1ae ";
	EXPECT_EQ(ps::message(ids).value(), std::string("zoe\x1F" "obrien\x1F" "2007-03-01\x1F" "M11AE"));
}

TEST(PseudonymMessage, SpellingsOfTheSamePersonGiveTheSameMessage) {
	const Identifiers other{"ZOE", "o brien", {2007, 3, 1}, "SW1A 1AA"};
	EXPECT_EQ(ps::message(other), ps::message(zoe()));
}

TEST(PseudonymMessage, NameCannotForgeTheSeparator) {
	const Identifiers ids{"zoe\x1F" "x", "obrien", {2007, 3, 1}, "SW1A 1AA"};
	EXPECT_EQ(ps::message(ids).value(), std::string("zoex\x1F" "obrien\x1F" "2007-03-01\x1F" "SW1A1AA"));
}

TEST(PseudonymMessage, NulloptWhenFirstNameNormalisesToEmpty) {
	Identifiers ids = zoe();
	ids.first_name = "-'.";
	EXPECT_FALSE(ps::message(ids).has_value());
	ids.first_name = "";
	EXPECT_FALSE(ps::message(ids).has_value());
}

TEST(PseudonymMessage, NulloptWhenLastNameNormalisesToEmpty) {
	Identifiers ids = zoe();
	ids.last_name = " \xF0\x9F\x98\x80 ";  // an emoji
	EXPECT_FALSE(ps::message(ids).has_value());
}

TEST(PseudonymMessage, NulloptWhenPostcodeIsBlank) {
	Identifiers ids = zoe();
	ids.postcode = "";
	EXPECT_FALSE(ps::message(ids).has_value());
	ids.postcode = "  \t ";
	EXPECT_FALSE(ps::message(ids).has_value());
}

TEST(PseudonymMessage, NulloptWhenPostcodeIsAnyWhitespaceThePostcodeParserSkips) {
	// uk_postcode skips \v and \f like spaces, so a postcode of only those is blank, not invalid.
	Identifiers ids = zoe();
	ids.postcode = " \v\f\r\n";
	EXPECT_FALSE(ps::message(ids).has_value());
}

TEST(PseudonymMessage, InvalidPostcodeThrows22P02) {
	Identifiers ids = zoe();
	ids.postcode = "GX11 1AA";
	const auto e = error_from([&] { ps::message(ids); });
	EXPECT_STREQ(e.sqlstate(), "22P02");
	EXPECT_TRUE(contains(e.what(), "GX11 1AA")) << e.what();
}

TEST(PseudonymMessage, YearOutside1To9999Throws22008) {
	Identifiers ids = zoe();
	ids.date_of_birth = {0, 3, 1};
	EXPECT_STREQ(error_from([&] { ps::message(ids); }).sqlstate(), "22008");
	ids.date_of_birth = {10000, 3, 1};
	EXPECT_STREQ(error_from([&] { ps::message(ids); }).sqlstate(), "22008");
	ids.date_of_birth = {9999, 12, 31};
	EXPECT_EQ(ps::message(ids).value(), std::string("zoe\x1F" "obrien\x1F" "9999-12-31\x1F" "SW1A1AA"));
}

// ---- signing -------------------------------------------------------------------------------

TEST(Pseudonymise, KnownAnswer) {
	// python3 -c 'import hmac,hashlib; print(hmac.new(bytes(range(32)),
	//   "zoe\x1fobrien\x1f2007-03-01\x1fSW1A1AA".encode(), hashlib.sha256).hexdigest()[:32])'
	const KeyRing ring = KeyRing::parse("linkage 1 " + key_1_hex + "\n", "test.keys");
	const auto id = ps::pseudonymise(ring, "linkage", zoe());
	ASSERT_TRUE(id.has_value());
	EXPECT_EQ(id->version, 1);
	EXPECT_EQ(hex(id->digest.data(), 16), "6eeeacdea554ef158392b6be84eb80c8");
	EXPECT_EQ(ps::to_text(*id), "1-3EXTPDX9AMXWAR74NPQT2EQ068*");
}

TEST(Pseudonymise, IsTheTruncatedHmacOfTheMessageUnderTheNewestKey) {
	const KeyRing ring =
	    KeyRing::parse("linkage 1 " + key_1_hex + "\nlinkage 2 " + key_2_hex + "\n", "test.keys");
	const Identifiers ids{"Si\xC3\xA2n", "Mary-Jane", {2010, 11, 9}, "ec1a 1bb"};
	std::string key_2;
	for (std::size_t i = 0; i < key_2_hex.size(); i += 2)
		key_2.push_back(static_cast<char>(std::stoi(key_2_hex.substr(i, 2), nullptr, 16)));
	const auto expected = HmacSha256(key_2).digest(std::string("sian\x1F" "maryjane\x1F" "2010-11-09\x1F" "EC1A1BB"));

	const auto id = ps::pseudonymise(ring, "linkage", ids);
	ASSERT_TRUE(id.has_value());
	EXPECT_EQ(id->version, 2);
	EXPECT_EQ(hex(id->digest.data(), 16), hex(expected.data(), 16));
}

TEST(Pseudonymise, SignWithAnOlderVersionDiffers) {
	const KeyRing ring =
	    KeyRing::parse("linkage 1 " + key_1_hex + "\nlinkage 2 " + key_2_hex + "\n", "test.keys");
	const std::string msg = ps::message(zoe()).value();
	const PseudoId old = ps::sign(ring.at("linkage", 1), msg);
	EXPECT_EQ(old.version, 1);
	EXPECT_EQ(hex(old.digest.data(), 16), "6eeeacdea554ef158392b6be84eb80c8");
	EXPECT_FALSE(same(old, ps::pseudonymise(ring, "linkage", zoe()).value()));
}

TEST(Pseudonymise, NulloptWhenAnIdentifierIsMissing) {
	const KeyRing ring = KeyRing::parse("linkage 1 " + key_1_hex + "\n", "test.keys");
	Identifiers ids = zoe();
	ids.postcode = " ";
	EXPECT_FALSE(ps::pseudonymise(ring, "linkage", ids).has_value());
}

TEST(Pseudonymise, UnknownScopeThrows42704) {
	const KeyRing ring = KeyRing::parse("linkage 1 " + key_1_hex + "\n", "test.keys");
	EXPECT_STREQ(error_from([&] { ps::pseudonymise(ring, "recipient:ucas", zoe()); }).sqlstate(), "42704");
}

// ---- text form -----------------------------------------------------------------------------

TEST(PseudoIdText, HasVersionDashAnd26DigitsAndACheckSymbol) {
	std::mt19937_64 rng(1);
	for (std::int32_t version : {1, 37, 999999999}) {
		const std::string text = ps::to_text(random_id(rng, version));
		const std::string prefix = std::to_string(version) + "-";
		ASSERT_EQ(text.compare(0, prefix.size(), prefix), 0) << text;
		const std::string body = text.substr(prefix.size());
		ASSERT_EQ(body.size(), 27u) << text;
		for (std::size_t i = 0; i < 26; ++i)
			EXPECT_NE(std::strchr(base32_digits, body[i]), nullptr) << text;
		EXPECT_NE(std::strchr(symbols, body[26]), nullptr) << text;
		EXPECT_LE(body[0], '7') << text;
	}
}

TEST(PseudoIdText, EncodesBigEndianBase32) {
	EXPECT_EQ(ps::to_text(id_with(1, 0x00)), "1-00000000000000000000000000N");
	EXPECT_EQ(ps::to_text(id_with(1, 0xFF)), "1-7ZZZZZZZZZZZZZZZZZZZZZZZZZG");
	EXPECT_EQ(ps::to_text(id_with(37, 0xFF)), "37-7ZZZZZZZZZZZZZZZZZZZZZZZZZ*");
	PseudoId id;
	id.version = 999999999;
	const std::uint8_t d[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	                            0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
	std::memcpy(id.digest.data(), d, 16);
	EXPECT_EQ(ps::to_text(id), "999999999-014D2PF2DBSQQZXQ5TK1V58CGGA");
}

TEST(PseudoIdText, RoundTripsRandomIds) {
	std::mt19937_64 rng(20250901);
	for (std::int32_t version : {1, 37, 999999999})
		for (int i = 0; i < 2000; ++i) {
			const PseudoId id = random_id(rng, version);
			const std::string text = ps::to_text(id);
			EXPECT_TRUE(same(ps::from_text(text), id)) << text;
		}
}

TEST(PseudoIdText, RoundTripsExtremeDigests) {
	for (std::uint8_t fill : {0x00, 0x01, 0x80, 0xFF}) {
		const PseudoId id = id_with(1, fill);
		EXPECT_TRUE(same(ps::from_text(ps::to_text(id)), id)) << int(fill);
	}
}

TEST(PseudoIdText, AcceptsLowerCase) {
	std::mt19937_64 rng(2);
	for (int i = 0; i < 100; ++i) {
		const PseudoId id = random_id(rng, 37);
		std::string text = ps::to_text(id);
		for (char &c : text)
			if (c >= 'A' && c <= 'Z')
				c = static_cast<char>(c - 'A' + 'a');
		EXPECT_TRUE(same(ps::from_text(text), id)) << text;
	}
}

TEST(PseudoIdText, AcceptsCrockfordAliases) {
	PseudoId id = id_with(1, 0x00);
	id.digest[15] = 0x21;  // ...00001 00001: the last two digits are "1"
	const std::string text = ps::to_text(id);
	ASSERT_EQ(text.substr(0, 28), "1-" + std::string(24, '0') + "11");
	const std::string aliased = "1-OoOoOoOoOoOoOoOoOoOoOoOoIl" + text.substr(28);
	EXPECT_TRUE(same(ps::from_text(aliased), id)) << aliased;
	const std::string aliased2 = "1-" + std::string(24, 'o') + "lI" + text.substr(28);
	EXPECT_TRUE(same(ps::from_text(aliased2), id)) << aliased2;
}

TEST(PseudoIdText, RejectsEverySingleCharacterSubstitution) {
	std::mt19937_64 rng(3);
	std::vector<PseudoId> ids = {id_with(1, 0x00), id_with(1, 0xFF), id_with(999999999, 0x5A)};
	for (std::int32_t version : {1, 37, 123456789})
		for (int i = 0; i < 10; ++i)
			ids.push_back(random_id(rng, version));
	const std::string alphabet = std::string(symbols) + "-";
	for (const PseudoId &id : ids) {
		const std::string text = ps::to_text(id);
		for (std::size_t pos = 0; pos < text.size(); ++pos)
			for (char c : alphabet) {
				if (c == text[pos])
					continue;
				std::string typo = text;
				typo[pos] = c;
				EXPECT_TRUE(rejected(typo)) << text << " -> " << typo;
			}
	}
}

TEST(PseudoIdText, RejectsEverySwapOfAdjacentCharactersInTheBody) {
	std::mt19937_64 rng(4);
	for (int i = 0; i < 200; ++i) {
		const std::string text = ps::to_text(random_id(rng, i % 2 ? 1 : 999999999));
		const std::size_t body = text.find('-') + 1;
		for (std::size_t pos = body; pos + 1 < text.size(); ++pos) {
			if (text[pos] == text[pos + 1])
				continue;
			std::string swapped = text;
			std::swap(swapped[pos], swapped[pos + 1]);
			EXPECT_TRUE(rejected(swapped)) << text << " -> " << swapped;
		}
	}
}

TEST(PseudoIdText, RejectsWrongLength) {
	const std::string text = ps::to_text(id_with(1, 0x42));
	EXPECT_TRUE(rejected(text.substr(0, text.size() - 1)));
	EXPECT_TRUE(rejected(text + "0"));
	EXPECT_TRUE(rejected("1-"));
	EXPECT_TRUE(rejected(""));
	const auto e = error_from([&] { ps::from_text(text + "0"); });
	EXPECT_TRUE(contains(e.what(), "found 28")) << e.what();
}

TEST(PseudoIdText, RejectsMissingDash) {
	const std::string text = ps::to_text(id_with(1, 0x42));
	EXPECT_TRUE(rejected(text.substr(2)));
	EXPECT_TRUE(rejected("1" + text.substr(2)));
	EXPECT_TRUE(contains(error_from([&] { ps::from_text(text.substr(2)); }).what(), "no \"-\""));
}

TEST(PseudoIdText, RejectsVersionZeroLeadingZeroAndTooLong) {
	const std::string body = ps::to_text(id_with(1, 0x42)).substr(2);
	EXPECT_TRUE(rejected("0-" + body));
	EXPECT_TRUE(rejected("01-" + body));
	EXPECT_TRUE(rejected("1000000000-" + body));
	EXPECT_TRUE(rejected("-" + body));
	EXPECT_TRUE(rejected("+1-" + body));
}

TEST(PseudoIdText, RejectsFirstDigitAbove7WhateverTheCheckSymbol) {
	// 26 digits carry 130 bits; the top two must be zero for a 128-bit digest. Trying every check
	// symbol makes sure the range rule, not only the check, rejects these.
	const std::string body = ps::to_text(id_with(1, 0x00)).substr(2, 26);
	for (char first : std::string("89ABCDEFGHJKMNPQRSTVWXYZ"))
		for (char check : std::string(symbols)) {
			const std::string text = "1-" + std::string(1, first) + body.substr(1) + check;
			EXPECT_TRUE(rejected(text)) << text;
		}
}

TEST(PseudoIdText, RejectsCheckSymbolInTheDigits) {
	const std::string text = ps::to_text(id_with(1, 0x00));
	for (char c : std::string("*~$=U")) {
		std::string bad = text;
		bad[5] = c;
		EXPECT_TRUE(rejected(bad)) << bad;
	}
}

TEST(PseudoIdText, ErrorQuotesAShortenedValue) {
	const std::string junk(200, 'x');
	const auto e = error_from([&] { ps::from_text(junk); });
	EXPECT_STREQ(e.sqlstate(), "22P02");
	EXPECT_TRUE(contains(e.what(), std::string(48, 'x') + "...")) << e.what();
	EXPECT_FALSE(contains(e.what(), std::string(49, 'x'))) << e.what();
}

// ---- ordering ------------------------------------------------------------------------------

TEST(PseudoIdCompare, OrdersByVersionFirst) {
	EXPECT_LT(ps::compare(id_with(1, 0xFF), id_with(2, 0x00)), 0);
	EXPECT_GT(ps::compare(id_with(2, 0x00), id_with(1, 0xFF)), 0);
	EXPECT_LT(ps::compare(id_with(9, 0x00), id_with(10, 0x00)), 0);
}

TEST(PseudoIdCompare, ThenByDigestBytesUnsigned) {
	PseudoId a = id_with(1, 0x00);
	PseudoId b = id_with(1, 0x00);
	b.digest[15] = 0x01;
	EXPECT_LT(ps::compare(a, b), 0);
	EXPECT_GT(ps::compare(b, a), 0);
	a.digest[0] = 0x80;  // compares above 0x7F: bytes are unsigned
	b.digest[0] = 0x7F;
	EXPECT_GT(ps::compare(a, b), 0);
}

TEST(PseudoIdCompare, EqualIdsCompareEqual) {
	std::mt19937_64 rng(5);
	const PseudoId id = random_id(rng, 3);
	EXPECT_EQ(ps::compare(id, id), 0);
	EXPECT_EQ(ps::compare(id, ps::from_text(ps::to_text(id))), 0);
}

// The per-recipient reference's message is message() of "c<id>", "p<id>", 1900-01-01, GIR 0AA.
TEST(ReferenceMessage, SameAsTheGeneralMessage) {
	using outreach::CivilDate;
	const std::int64_t controllers[] = {0, 1, 7, 42, 100, -5, 2147483647, -2147483647 - 1};
	const std::int64_t participants[] = {0, 1, 12, 999999, 4096, -3, 9223372036854775807LL, -9223372036854775807LL - 1};
	std::string fast;
	for (std::int64_t c : controllers)
		for (std::int64_t p : participants) {
			const std::string first = "c" + std::to_string(c), last = "p" + std::to_string(p);
			const auto general = ps::message(Identifiers{first, last, CivilDate{1900, 1, 1}, "GIR 0AA"});
			ASSERT_TRUE(general.has_value());
			ps::reference_message_into(c, p, fast);
			EXPECT_EQ(*general, fast) << c << " " << p;
		}
}

TEST(RecipientReference, KeysAreOneToOneForWellFormedReferences) {
	EXPECT_TRUE(ps::well_formed_reference("12-0123456789ABCDEFGHJKMNPQRS*"));
	EXPECT_FALSE(ps::well_formed_reference("12-0123456789ABCDEFGHJKMNPQR*"));    // 25 + 1
	EXPECT_FALSE(ps::well_formed_reference("-0123456789ABCDEFGHJKMNPQRS*"));     // no key version
	EXPECT_FALSE(ps::well_formed_reference("12345678901-0123456789ABCDEFGHJKMNPQRS0"));
	EXPECT_FALSE(ps::well_formed_reference("12-0123456789abcdefghjkmnpqrs0"));   // lower case
	EXPECT_FALSE(ps::well_formed_reference("12-0123456789ABCDEFGHJKMNPQRS!"));
	const auto a = ps::reference_key("12-0123456789ABCDEFGHJKMNPQRS*"), b = ps::reference_key("12-0123456789ABCDEFGHJKMNPQRS~"),
	           c = ps::reference_key("21-0123456789ABCDEFGHJKMNPQRS*"), d = ps::reference_key("12-1123456789ABCDEFGHJKMNPQRS*"),
	           e = ps::reference_key("12-0123456789ABCDEFGHJKMNPQRZ*");
	ASSERT_TRUE(a && b && c && d && e);
	auto same = [](const ps::ReferenceKey &x, const ps::ReferenceKey &y) { return x.a == y.a && x.b == y.b && x.c == y.c; };
	EXPECT_FALSE(same(*a, *b));
	EXPECT_FALSE(same(*a, *c));
	EXPECT_FALSE(same(*a, *d));
	EXPECT_FALSE(same(*a, *e));
	EXPECT_TRUE(same(*a, *ps::reference_key("12-0123456789ABCDEFGHJKMNPQRS*")));
	EXPECT_FALSE(ps::reference_key("9999999999-0123456789ABCDEFGHJKMNPQRS0"));  // well formed, but no key has that version
	EXPECT_TRUE(ps::reference_key("2147483647-ZZZZZZZZZZZZZZZZZZZZZZZZZZ="));
}

// What to_text writes is what the outcome import reads back: every text form is a well-formed
// reference, and different pseudo_ids have different keys.
TEST(RecipientReference, EveryTextFormIsWellFormedWithItsOwnKey) {
	std::mt19937_64 rng(13);
	std::vector<ps::ReferenceKey> keys;
	for (std::int32_t version : {1, 9, 10, 999999999}) {
		for (int i = 0; i < 500; ++i) {
			const std::string text = ps::to_text(random_id(rng, version));
			ASSERT_TRUE(ps::well_formed_reference(text)) << text;
			const auto key = ps::reference_key(text);
			ASSERT_TRUE(key) << text;
			keys.push_back(*key);
		}
	}
	auto less = [](const ps::ReferenceKey &x, const ps::ReferenceKey &y) {
		return std::tie(x.a, x.b, x.c) < std::tie(y.a, y.b, y.c);
	};
	std::sort(keys.begin(), keys.end(), less);
	EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end(),
	                             [](const ps::ReferenceKey &x, const ps::ReferenceKey &y) {
		                             return x.a == y.a && x.b == y.b && x.c == y.c;
	                             }),
	          keys.end());
}
