#pragma once
// The few path operations ingot needs, on POSIX paths as strings. They stand
// in for <filesystem>, which costs over a second of parsing in every
// translation unit that includes it.
#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace ingot::paths {

// The folder part with its trailing slash ("runs/a.csv" -> "runs/", "/a" ->
// "/"), or "" for a bare file name.
inline std::string folder_prefix(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}
// The folder a path's file lives in, "." for a bare file name.
inline std::string folder_of(const std::string& path) {
  std::string dir = folder_prefix(path);
  if (dir.empty()) return ".";
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}
// The name after the last slash; empty when the path ends in one.
inline std::string file_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
inline bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}
// The size of a regular file, or 0 when there is none.
inline std::uint64_t file_size_or_zero(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace ingot::paths
