// The outreach.key_file setting and the backend's cached key ring.
#pragma once
#include "../core/keyring.hpp"

namespace outreach::pg {

void define_key_file_setting();

// The key ring from outreach.key_file, re-read when the file changes. The file is looked at
// once per transaction, so a rotated key or a tightened permission takes effect at the next
// transaction. Throws outreach::Error when the setting or the file is unusable.
const keys::KeyRing &current_keyring();

}  // namespace outreach::pg
