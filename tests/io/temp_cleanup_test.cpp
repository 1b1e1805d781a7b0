// Cleanup of temporary files: which leftovers of earlier saves the next save of the same file
// removes (those of dead writers on this host, or a day old) and which it must leave alone.
// Builds fixture names through detail::temp_file_name, the one place that spells them.
#include "descent/io.hpp"
#include "io/file.hpp"
#include "io_test_util.hpp"

namespace descent::testing {
namespace {

/// A process id that is not running (a child that has exited and been reaped).
pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

class TempCleanupTest : public FileTest {};

// Only stale temporaries of the same target go: not those of live writers, other targets,
// other hosts (unless a day old) or files that merely look similar.
TEST_F(TempCleanupTest, RemovesOnlyStaleTemporariesOfTheSameFile) {
  const std::string ckpt = path("ckpt.safetensors");
  const pid_t dead = dead_pid();
  const std::string host = detail::temp_host_tag();
  const std::vector<std::string> keep = {
      detail::temp_file_name(ckpt, ::getpid(), 1000, host),  // a live writer (this process)
      detail::temp_file_name(ckpt + ".x", dead, 0, host),    // another target
      detail::temp_file_name(ckpt, dead, 0, "0badc0de"),     // another host, recent
      ckpt + ".bak",
      ckpt + ".descent-tmp.",
      ckpt + ".descent-tmp.12x.0." + host,
  };
  for (const std::string& name : keep) write_bytes(name, {1});
  const std::string stale = detail::temp_file_name(ckpt, dead, 7, host);
  const std::string old_foreign = detail::temp_file_name(ckpt, dead, 1, "feedf00d");
  write_bytes(stale, {1});
  write_bytes(old_foreign, {1});
  auto two_days_ago = std::filesystem::file_time_type::clock::now() - std::chrono::hours(48);
  std::filesystem::last_write_time(old_foreign, two_days_ago);
  save_safetensors(ckpt, {{"w", Shape{1}, {1}}});
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_FALSE(std::filesystem::exists(old_foreign));
  for (const std::string& name : keep) EXPECT_TRUE(std::filesystem::exists(name)) << name;
}

}  // namespace
}  // namespace descent::testing
