#include "jobs/export_file.hpp"

#include "jobs/file_removal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace outreachd {
namespace {

std::string hex(const unsigned char* p, unsigned n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw FileError(what + " " + path + ": " + std::strerror(errno));
}

void fsync_directory(const std::string& directory) {
  int dfd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) fail("cannot open directory", directory);
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) fail("cannot fsync directory", directory);
}

void write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", path);  // ENOSPC, EDQUOT, EIO ...
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

void ExportFile::require_writable_directory(const std::string& directory) {
  struct stat st {};
  if (::stat(directory.c_str(), &st) != 0) fail("export directory", directory);
  if (!S_ISDIR(st.st_mode)) throw FileError("export directory " + directory + " is not a directory");
  if (::access(directory.c_str(), W_OK | X_OK) != 0) fail("export directory is not writable:", directory);
}

ExportFile::ExportFile(std::string directory, std::string name)
    : dir_(std::move(directory)), hash_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
  temp_ = dir_ + "/" + temporary_name(name);
  final_ = dir_ + "/" + name;
  ::unlink(temp_.c_str());  // left by a crashed run of the same export
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) fail("cannot create", temp_);
  if (!hash_ || EVP_DigestInit_ex(hash_.get(), EVP_sha256(), nullptr) != 1) throw FileError("SHA-256 unavailable");
  buffer_.reserve(1 << 20);
}

ExportFile::~ExportFile() {
  if (fd_ >= 0) ::close(fd_);
  if (committed_) return;
  // Personal data that will never be sent (an abandoned export, the plain text of an encrypted
  // one): overwritten where the file system allows, then removed.
  try {
    shred_file(temp_);
  } catch (const std::exception&) {
    ::unlink(temp_.c_str());
  }
}

void ExportFile::write(std::string_view bytes) {
  EVP_DigestUpdate(hash_.get(), bytes.data(), bytes.size());
  buffer_.append(bytes);
  if (buffer_.size() >= (1 << 20)) flush();
}

void ExportFile::flush() {
  write_all(fd_, buffer_, temp_);
  buffer_.clear();
}

void ExportFile::finish_writing() {
  flush();
  if (::fsync(fd_) != 0) fail("cannot fsync", temp_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail("cannot close", temp_);
  }
  fd_ = -1;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(hash_.get(), digest, &n);
  digest_ = hex(digest, n);
}

std::string ExportFile::sha256_hex() const { return digest_; }

void ExportFile::commit() {
  if (::rename(temp_.c_str(), final_.c_str()) != 0) fail("cannot rename into place", final_);
  committed_ = true;
  fsync_directory(dir_);
}

void ExportFile::write_atomically(const std::string& directory, const std::string& name, std::string_view content) {
  ExportFile f(directory, name);
  f.write(content);
  f.finish_writing();
  f.commit();
}

void ExportFile::commit_existing(const std::string& directory, const std::string& name) {
  const std::string temp = directory + "/" + temporary_name(name);
  const std::string final_path = directory + "/" + name;
  int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", temp);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail("cannot fsync", temp);
  if (::rename(temp.c_str(), final_path.c_str()) != 0) fail("cannot rename into place", final_path);
  fsync_directory(directory);
}

std::string ExportFile::sha256_of_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot read", path);
  std::string sum;
  try {
    sum = sha256_of_fd(fd, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return sum;
}

std::string ExportFile::sha256_of_fd(int fd, const std::string& path) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  char buf[1 << 16];
  off_t at = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read", path);
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(n));
    at += n;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  return hex(digest, len);
}

}  // namespace outreachd
