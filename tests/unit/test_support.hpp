// Helpers shared by the unit tests.
#pragma once
#include "core/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace outreach::test {

// Runs f and returns the outreach::Error it throws; records a failure (and returns an error
// with an empty SQLSTATE, which fails any later check of it) when it throws nothing.
template <class F>
Error error_from(F &&f) {
	try {
		f();
	} catch (const Error &e) {
		return e;
	}
	ADD_FAILURE() << "expected an outreach::Error, nothing was thrown";
	return Error("", "");
}

inline bool contains(const std::string &haystack, const std::string &needle) {
	return haystack.find(needle) != std::string::npos;
}

}  // namespace outreach::test
