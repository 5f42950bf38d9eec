// The outreach.key_file setting and the backend's cached key ring.
#pragma once
#include "../core/keyring.hpp"

#include <cstdint>

namespace outreach::pg {

void define_key_file_setting();

// The key ring from outreach.key_file, re-read when the file changes. The file is looked at
// once per transaction, so a rotated key or a tightened permission takes effect at the next
// transaction. Throws outreach::Error when the setting or the file is unusable.
const keys::KeyRing &current_keyring();

// Changes whenever current_keyring() loads the file again: a pointer into the ring obtained
// under one generation stays valid while the generation is unchanged.
std::uint64_t keyring_generation();

}  // namespace outreach::pg
