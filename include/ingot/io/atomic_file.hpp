#pragma once
// Writes a file so that a crash at any moment leaves either the old file or
// the complete new one: the bytes go to a temporary file in the same folder,
// which is flushed to disk (fsync) and renamed over the target (rename is
// atomic within a file system), and then the folder itself is fsynced so
// that the rename survives a power loss. POSIX only.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>

#include "ingot/core/config.hpp"
#include "ingot/core/paths.hpp"

namespace ingot::io {

struct io_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
// Called with the temporary file's path after it is complete and synced,
// just before the rename; tests use it to stop a save at the worst moment.
inline void (*before_rename_hook)(const std::string& temporary) = nullptr;

INGOT_DECL std::string os_error(const std::string& what, const std::string& path);
}  // namespace detail

// The temporary name used for path: hidden, in the same folder, per process.
INGOT_DECL std::string temporary_path(const std::string& path);

// Writes the pieces, one after the other, as the whole new content of path.
INGOT_DECL void atomic_write(const std::string& path, std::span<const std::span<const std::uint8_t>> pieces);

INGOT_DECL void atomic_write(const std::string& path, std::initializer_list<std::span<const std::uint8_t>> pieces);

#if INGOT_DEFINE_BODIES
INGOT_DECL std::string detail::os_error(const std::string& what, const std::string& path) {
  return "ingot: " + what + " " + path + ": " + std::strerror(errno);
}

INGOT_DECL std::string temporary_path(const std::string& path) {
  return paths::folder_prefix(path) + "." + paths::file_name(path) + ".tmp-" + std::to_string(::getpid());
}

INGOT_DECL void atomic_write(const std::string& path, std::span<const std::span<const std::uint8_t>> pieces) {
  if (paths::file_name(path).empty()) throw io_error("ingot: cannot write to " + path + ": it names a folder");
  const std::string tmp = temporary_path(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw io_error(detail::os_error("cannot create", tmp));
  auto fail = [&](const std::string& what) {
    const std::string msg = detail::os_error(what, tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    throw io_error(msg);
  };
  for (const auto& piece : pieces) {
    const std::uint8_t* p = piece.data();
    std::size_t left = piece.size();
    while (left > 0) {
      const ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("cannot write");
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  if (::fsync(fd) != 0) fail("cannot sync");
  if (::close(fd) != 0) {
    const std::string msg = detail::os_error("cannot close", tmp);
    ::unlink(tmp.c_str());
    throw io_error(msg);
  }
  if (detail::before_rename_hook) detail::before_rename_hook(tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string msg = detail::os_error("cannot rename the new file onto", path);
    ::unlink(tmp.c_str());
    throw io_error(msg);
  }
  const std::string dir = paths::folder_of(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

INGOT_DECL void atomic_write(const std::string& path, std::initializer_list<std::span<const std::uint8_t>> pieces) {
  atomic_write(path, std::span<const std::span<const std::uint8_t>>(pieces.begin(), pieces.size()));
}
#endif  // INGOT_DEFINE_BODIES

}  // namespace ingot::io
