// Removing export files that have expired (the sweep job) and plain-text copies that must not
// outlive an encryption (the export job), so that what is removed is the export and nothing else:
//  - the export directory carries a marker (.outreachd-exports, written by the export job): a
//    file missing from a directory without it is an error (not mounted? moved?), not "not
//    found";
//  - the file is opened relative to the directory, without following a symbolic link and without
//    blocking (a FIFO in its place is refused, never waited on), and must be a regular file of
//    the daemon's user whose SHA-256 is the export's: a decoy, or a hard link to another file
//    under the export's name, is left and reported;
//  - where the file system writes in place (ext2/3/4, XFS, tmpfs) zeros are written over every
//    byte and synced; elsewhere (btrfs, ZFS, F2FS, NFS, overlay ...) the zeros would go to new
//    blocks, and the file is only unlinked (and reported "unlinked");
//  - it is unlinked only if the name still refers to the file checked (the same inode), and the
//    directory is synced.
// Every function throws FileError naming the file and why.
#pragma once
#include <string>

namespace outreachd {

inline constexpr const char* export_directory_marker = ".outreachd-exports";

// Writes the marker into the export directory if it is not there.
void mark_export_directory(const std::string& directory);

// Removes an expired export file: "overwritten", "unlinked" or "not_found" (see above).
std::string remove_export_file(const std::string& directory, const std::string& name, const std::string& sha256);

// Unlinks an expired export's manifest (no personal data: never overwritten, so that a hard link
// under its name cannot make the daemon overwrite another file); false when it was not there.
bool remove_manifest(const std::string& directory, const std::string& name);

// Overwrites (where the file system writes in place) and unlinks a file the daemon wrote a
// moment ago (the plain text of an encrypted export).
void shred_file(const std::string& path);

}  // namespace outreachd
