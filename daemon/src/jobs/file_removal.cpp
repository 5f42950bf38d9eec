#include "jobs/file_removal.hpp"

#include "jobs/export_file.hpp"  // FileError, sha256_of_fd

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

namespace outreachd {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, int err = errno) {
  throw FileError(what + " " + path + ": " + std::strerror(err));
}

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool valid_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// File systems that write a file's new bytes over its old blocks (statfs f_type).
bool overwrites_in_place(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53UL:      // ext2, ext3, ext4
    case 0x58465342UL:  // XFS (an export file shares no extents)
    case 0x01021994UL:  // tmpfs
      return true;
    default:
      return false;
  }
}

void overwrite(int fd, off_t size, const std::string& path) {
  const std::string zeros(std::size_t{1} << 20, '\0');
  off_t done = 0;
  while (done < size) {
    const auto n_bytes = static_cast<std::size_t>(std::min<off_t>(size - done, static_cast<off_t>(zeros.size())));
    const ssize_t n = ::pwrite(fd, zeros.data(), n_bytes, done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot overwrite", path);
    done += n;
  }
  if (::fsync(fd) != 0) fail("cannot fsync", path);
}

// Unlinks name if it still refers to the file open as fd, then syncs the directory.
void unlink_same(int dir, int fd, const std::string& name, const std::string& path) {
  struct stat opened {}, now {};
  if (::fstat(fd, &opened) != 0) fail("cannot stat", path);
  if (::fstatat(dir, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0) fail("cannot stat", path);
  if (now.st_dev != opened.st_dev || now.st_ino != opened.st_ino)
    throw FileError(path + " was replaced while it was being removed: left in place");
  if (::unlinkat(dir, name.c_str(), 0) != 0) fail("cannot remove", path);
  if (::fsync(dir) != 0) fail("cannot fsync the directory of", path);
}

Fd open_directory(const std::string& directory) {
  Fd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) fail("cannot open the export directory", directory);
  return Fd(std::exchange(dir.fd, -1));
}

}  // namespace

void mark_export_directory(const std::string& directory) {
  const std::string path = directory + "/" + export_directory_marker;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return;
    fail("cannot create", path);
  }
  static const char text[] = "outreachd writes linkage exports here; its sweep removes them after delivery\n";
  // (not synced: lost in a crash, the next export writes it again)
  const bool ok = ::write(fd, text, sizeof text - 1) == static_cast<ssize_t>(sizeof text - 1);
  const int err = errno;
  ::close(fd);
  if (!ok) fail("cannot write", path, err);
}

std::string remove_export_file(const std::string& directory, const std::string& name, const std::string& sha256) {
  if (!valid_name(name)) throw FileError("not an export file name: " + name);
  const std::string path = directory + "/" + name;
  const Fd dir = open_directory(directory);
  const Fd file(::openat(dir.fd, name.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (file.fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      if (::faccessat(dir.fd, export_directory_marker, F_OK, AT_SYMLINK_NOFOLLOW) == 0) return "not_found";
      throw FileError(path + " is not there, and neither is the directory's marker " +
                      std::string(export_directory_marker) + ": is the export directory mounted? Nothing recorded");
    }
    fail("cannot open for removal", path, err);
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) fail("cannot stat", path);
  if (!S_ISREG(st.st_mode)) throw FileError(path + " is not a regular file: left in place");
  if (st.st_uid != ::geteuid()) throw FileError(path + " belongs to another user: left in place");
  if (ExportFile::sha256_of_fd(file.fd, path) != sha256)
    throw FileError(path + " is not the export (its SHA-256 differs from the one recorded): left in place");
  const int flags = ::fcntl(file.fd, F_GETFL);
  if (flags < 0 || ::fcntl(file.fd, F_SETFL, flags & ~O_NONBLOCK) != 0) fail("cannot set flags of", path);
  const bool in_place = overwrites_in_place(file.fd);
  if (in_place) overwrite(file.fd, st.st_size, path);
  unlink_same(dir.fd, file.fd, name, path);
  return in_place ? "overwritten" : "unlinked";
}

bool remove_manifest(const std::string& directory, const std::string& name) {
  if (!valid_name(name)) throw FileError("not a manifest name: " + name);
  const std::string path = directory + "/" + name;
  const Fd dir = open_directory(directory);
  struct stat st {};
  if (::fstatat(dir.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return false;
    fail("cannot stat", path);
  }
  if (!S_ISREG(st.st_mode)) throw FileError(path + " is not a regular file: left in place");
  if (::unlinkat(dir.fd, name.c_str(), 0) != 0) fail("cannot remove", path);
  if (::fsync(dir.fd) != 0) fail("cannot fsync the directory of", path);
  return true;
}

void shred_file(const std::string& path) {
  const Fd file(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (file.fd < 0) {
    if (errno == ENOENT) return;
    fail("cannot open for removal", path);
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) fail("cannot stat", path);
  if (S_ISREG(st.st_mode) && overwrites_in_place(file.fd)) overwrite(file.fd, st.st_size, path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail("cannot remove", path);
}

}  // namespace outreachd
