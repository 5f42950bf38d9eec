#include "keyring_guc.hpp"

#include <memory>
#include <string>
#include <sys/stat.h>

extern "C" {
#include "postgres.h"

#include "storage/proc.h"
#include "utils/guc.h"
}

namespace outreach::pg {
namespace {

char *key_file_setting = nullptr;

// The cache lives for the backend's lifetime (plain new/delete: PostgreSQL does not own it).
struct Cache {
	std::unique_ptr<keys::KeyRing> ring;
	std::string path;
	struct stat identity {};
	LocalTransactionId checked_in = InvalidLocalTransactionId;
	std::uint64_t generation = 0;  // bumped on every (re)load, so callers may cache lookups
};
Cache cache;

bool same_file(const struct stat &a, const struct stat &b) {
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size && a.st_mode == b.st_mode &&
	       a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
	       a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

}  // namespace

void define_key_file_setting() {
	DefineCustomStringVariable("outreach.key_file",
	                           "Path of the file holding the keys for pseudonyms (lines: scope version hex-key).",
	                           "Only superusers can set or see it; the file must not be readable by group or others.",
	                           &key_file_setting, "", PGC_SUSET, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
}

const keys::KeyRing &current_keyring() {
	const char *path = key_file_setting ? key_file_setting : "";
	const LocalTransactionId now = MyProc ? MyProc->lxid : InvalidLocalTransactionId;
	if (cache.ring && now != InvalidLocalTransactionId && cache.checked_in == now && cache.path == path)
		return *cache.ring;
	struct stat st {};
	if (cache.ring && cache.path == path && ::stat(path, &st) == 0 && same_file(st, cache.identity)) {
		cache.checked_in = now;
		return *cache.ring;
	}
	cache.ring.reset();  // never fall back to stale keys when the file is gone or broken
	auto ring = std::make_unique<keys::KeyRing>(keys::KeyRing::load_file(path));
	if (::stat(path, &st) != 0)
		st = {};
	cache.ring = std::move(ring);
	cache.path = path;
	cache.identity = st;
	cache.checked_in = now;
	++cache.generation;
	return *cache.ring;
}

std::uint64_t keyring_generation() { return cache.generation; }

}  // namespace outreach::pg
