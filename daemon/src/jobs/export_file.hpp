// Writing an export file safely: a hidden temporary name (".<name>.partial", never mistaken for
// a finished file), mode 0600, SHA-256 computed while writing, fsync, and an atomic rename
// into place followed by an fsync of the directory. Plain POSIX calls on a local file.
#pragma once
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace outreachd {

struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ExportFile {
 public:
  ExportFile(std::string directory, std::string name);  // creates the temporary file
  ~ExportFile();                                        // removes it unless committed
  void write(std::string_view bytes);
  void finish_writing();           // flush, fsync, close; the hash is then final
  std::string sha256_hex() const;  // of everything written
  void commit();                   // rename into place, fsync the directory
  void keep() { committed_ = true; }  // leave the temporary file (for commit_existing, or the next run)
  const std::string& temporary_path() const { return temp_; }
  const std::string& final_path() const { return final_; }

  static std::string temporary_name(const std::string& name) { return "." + name + ".partial"; }
  // Writes a small file (a manifest) the same way: temporary, fsync, rename.
  static void write_atomically(const std::string& directory, const std::string& name, std::string_view content);
  static std::string sha256_of_file(const std::string& path);
  // Of an open file, from its first byte (path: for the error message).
  static std::string sha256_of_fd(int fd, const std::string& path);
  // Moves ".<name>.partial", written by another program, into place (fsync, rename, fsync dir).
  static void commit_existing(const std::string& directory, const std::string& name);
  static void require_writable_directory(const std::string& directory);

 private:
  void flush();
  std::string dir_, temp_, final_;
  int fd_ = -1;
  bool committed_ = false;
  std::string buffer_;
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> hash_;
  std::string digest_;
};

}  // namespace outreachd
