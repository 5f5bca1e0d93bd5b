// ConfinedEnv and the data directory's confinement (SPEC §7, issue 6):
// nothing the engine opens leaves the data directory, whatever the path's
// spelling and whatever symlink someone plants inside it.  Every test runs
// with openat2 and with the component walk used on kernels without it.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include <gtest/gtest.h>

#include "stele/stele.h"
#include "test_util.h"
#include "util/confined_env.h"

namespace stele {
namespace {

namespace fs = std::filesystem;

class Confined : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { ConfinedEnv::UseComponentWalkForTesting(GetParam()); }
  void TearDown() override { ConfinedEnv::UseComponentWalkForTesting(false); }

  // A Log with a few events in `dir`, shut down.
  void MakeLog(const std::string& dir, int events = 50) {
    Options o;
    o.dir = dir;
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    for (int i = 0; i < events; ++i) {
      ASSERT_TRUE((*log)->Append("{\"type\":\"t.x\",\"lead_id\":\"L" + std::to_string(i) + "\"}").ok());
    }
    ASSERT_TRUE((*log)->Shutdown().ok());
  }

  test::TempDir tmp_;
};

TEST_P(Confined, PathsThatLeaveTheRootOrAreNotPlainNamesAreRefused) {
  const std::string root = tmp_.Sub("data");
  ConfinedEnv env(root);
  ASSERT_TRUE(env.CreateDir(root).ok());
  const std::vector<std::string> bad = {
      "/etc/passwd",
      tmp_.path(),
      tmp_.Sub("data2/x"),                    // a sibling sharing the prefix
      root + "/../outside",
      root + "/segments/../../outside",
      root + "/./x",
      root + "/..",
      root + "/%2e%2e/x",
      root + "/..%2fx",
      root + "/a\\..\\b",
      root + std::string("/x\0/../../y", 11),
      root + "/\xc0\xae\xc0\xae/x",  // overlong UTF-8 dots
      root + "/x y",
  };
  for (const std::string& path : bad) {
    SCOPED_TRACE(path);
    auto rel = env.Relative(path);
    ASSERT_FALSE(rel.ok());
    EXPECT_EQ(rel.status().code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(env.OpenReadable(path).status().code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(env.OpenAppendable(path).status().code(), StatusCode::kPermissionDenied);
    EXPECT_FALSE(env.Exists(path));
  }
  EXPECT_FALSE(fs::exists(tmp_.Sub("outside")));
  EXPECT_EQ(*env.Relative(root + "/segments/00000000000000000001.seg"), "segments/00000000000000000001.seg");
  EXPECT_EQ(*env.Relative(root + "//segments//x.seg"), "segments/x.seg") << "runs of slashes are one";
  EXPECT_EQ(*ConfinedEnv(root + "/").Relative(root + "//keys/k"), "keys/k");
  EXPECT_EQ(*env.Relative(root + "/"), "");
}

TEST_P(Confined, ADataDirectoryGivenWithATrailingSlashWorks) {
  const std::string root = tmp_.Sub("data") + "/";
  MakeLog(root);
  auto report = VerifyLog(root, {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok) << report->reason;
  Query q;
  EXPECT_EQ(*CountDirectory(root, q), 50u);
  EXPECT_EQ(test::QueryAll(root, q).size(), 50u);
}

TEST_P(Confined, EveryOperationWorksBeneathTheRoot) {
  const std::string root = tmp_.Sub("data");
  ConfinedEnv env(root + "/");  // a trailing slash is the same root
  ASSERT_TRUE(env.CreateDir(root).ok());
  ASSERT_TRUE(env.CreateDir(root + "/sub").ok());
  ASSERT_TRUE(env.CreateDir(root + "/sub").ok()) << "exists already: fine";
  auto f = env.OpenAppendable(root + "/sub/a.txt");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE((*f)->Append("hello").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_TRUE(env.Exists(root + "/sub/a.txt"));
  EXPECT_EQ(*ReadFileToString(&env, root + "/sub/a.txt", 100), "hello");
  ASSERT_TRUE(env.Truncate(root + "/sub/a.txt", 2).ok());
  EXPECT_EQ(*ReadFileToString(&env, root + "/sub/a.txt", 100), "he");
  ASSERT_TRUE(WriteFileAtomically(&env, root + "/b.txt", "atomic").ok());
  ASSERT_TRUE(env.Rename(root + "/b.txt", root + "/sub/c.txt").ok());
  auto names = env.ListDir(root + "/sub");
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"a.txt", "c.txt"}));
  ASSERT_TRUE(env.SyncDir(root + "/sub").ok());
  ASSERT_TRUE(env.Remove(root + "/sub/a.txt").ok());
  EXPECT_FALSE(env.Exists(root + "/sub/a.txt"));
  EXPECT_EQ(env.Remove(root + "/sub/a.txt").code(), StatusCode::kNotFound);
  EXPECT_EQ(env.OpenReadable(root + "/nope").status().code(), StatusCode::kNotFound);
  auto lock = env.LockFile(root + "/LOCK");
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ(env.LockFile(root + "/LOCK").status().code(), StatusCode::kLocked);
  EXPECT_EQ(env.Remove(root).code(), StatusCode::kPermissionDenied);
}

TEST_P(Confined, ASymlinkPlantedInsideIsNeverFollowed) {
  const std::string root = tmp_.Sub("data");
  ConfinedEnv env(root);
  ASSERT_TRUE(env.CreateDir(root).ok());
  fs::create_directory(tmp_.Sub("outside"));
  test::WriteFileBytes(tmp_.Sub("outside/secret"), "outside bytes");
  fs::create_symlink(tmp_.Sub("outside/secret"), root + "/leaf");
  fs::create_symlink(tmp_.Sub("outside"), root + "/dir");
  fs::create_symlink("../outside/secret", root + "/relative");

  for (const std::string& path : {root + "/leaf", root + "/dir/secret", root + "/relative", root + "/dir/new"}) {
    SCOPED_TRACE(path);
    auto r = env.OpenReadable(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
    EXPECT_NE(r.status().message().find("symlink"), std::string::npos) << r.status().ToString();
    EXPECT_EQ(env.OpenAppendable(path).status().code(), StatusCode::kPermissionDenied);
    EXPECT_FALSE(env.Truncate(path, 0).ok());
  }
  EXPECT_FALSE(env.ListDir(root + "/dir").ok());
  EXPECT_FALSE(env.CreateDir(root + "/dir").ok()) << "a symlinked directory is not a directory beneath the root";
  EXPECT_FALSE(env.Rename(root + "/dir/secret", root + "/stolen").ok());
  EXPECT_FALSE(env.Remove(root + "/dir/secret").ok());
  EXPECT_FALSE(env.LockFile(root + "/leaf").ok());
  // Nothing outside changed, and nothing was created there.
  EXPECT_EQ(test::ReadFileBytes(tmp_.Sub("outside/secret")), "outside bytes");
  EXPECT_FALSE(fs::exists(tmp_.Sub("outside/new")));
  EXPECT_TRUE(fs::exists(tmp_.Sub("outside/secret")));
}

TEST_P(Confined, ALogRefusesASymlinkPlantedInItsDataDirectory) {
  const std::string root = tmp_.Sub("data");
  MakeLog(root);
  fs::create_directory(tmp_.Sub("outside"));
  test::WriteFileBytes(tmp_.Sub("outside/victim"), "keep me");
  // Plant each kind of link in turn; the log must refuse to open (naming
  // the file) and must not touch the target.
  struct Plant {
    std::string name;
    std::function<void()> plant, undo;
  };
  const std::string seg = test::SegmentFiles(root).back();
  const std::string seg_saved = tmp_.Sub("saved.seg");
  const std::vector<Plant> plants = {
      {"the active segment",
       [&] {
         fs::rename(seg, seg_saved);
         fs::create_symlink(tmp_.Sub("outside/victim"), seg);
       },
       [&] {
         fs::remove(seg);
         fs::rename(seg_saved, seg);
       }},
      {"the signing key",
       [&] {
         fs::rename(root + "/keys/checkpoint.key", tmp_.Sub("saved.key"));
         fs::create_symlink(tmp_.Sub("outside/victim"), root + "/keys/checkpoint.key");
       },
       [&] {
         fs::remove(root + "/keys/checkpoint.key");
         fs::rename(tmp_.Sub("saved.key"), root + "/keys/checkpoint.key");
       }},
      {"the merkle directory",
       [&] {
         fs::rename(root + "/merkle", tmp_.Sub("saved-merkle"));
         fs::create_directory_symlink(tmp_.Sub("outside"), root + "/merkle");
       },
       [&] {
         fs::remove(root + "/merkle");
         fs::rename(tmp_.Sub("saved-merkle"), root + "/merkle");
       }},
      {"the lock file",
       [&] {
         fs::remove(root + "/LOCK");
         fs::create_symlink(tmp_.Sub("outside/victim"), root + "/LOCK");
       },
       [&] { fs::remove(root + "/LOCK"); }},
  };
  for (const Plant& p : plants) {
    SCOPED_TRACE(p.name);
    p.plant();
    Options o;
    o.dir = root;
    auto log = Log::Open(o);
    ASSERT_FALSE(log.ok()) << "opened with a symlinked " << p.name;
    EXPECT_EQ(log.status().code(), StatusCode::kPermissionDenied) << log.status().ToString();
    EXPECT_NE(log.status().message().find("symlink"), std::string::npos) << log.status().ToString();
    EXPECT_EQ(test::ReadFileBytes(tmp_.Sub("outside/victim")), "keep me");
    EXPECT_EQ(std::distance(fs::directory_iterator(tmp_.Sub("outside")), fs::directory_iterator()), 1);
    p.undo();
  }
  // Undone, the log opens and verifies.
  Options o;
  o.dir = root;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE((*log)->Shutdown().ok());
  auto report = VerifyLog(root, {});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->reason;
}

TEST_P(Confined, TheDataDirectoryIs0700AndItsFiles0600) {
  const std::string root = tmp_.Sub("data");
  const mode_t old = ::umask(0);  // the modes must not depend on a permissive umask
  MakeLog(root);
  ::umask(old);
  struct stat st;
  ASSERT_EQ(::stat(root.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    SCOPED_TRACE(e.path().string());
    ASSERT_EQ(::lstat(e.path().c_str(), &st), 0);
    EXPECT_FALSE(S_ISLNK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, S_ISDIR(st.st_mode) ? 0700u : 0600u);
    files += S_ISREG(st.st_mode);
  }
  EXPECT_GE(files, 4u);  // LOCK, a segment, the key, a checkpoint, merkle files
}

INSTANTIATE_TEST_SUITE_P(Resolution, Confined, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ComponentWalk" : "Openat2"; });

}  // namespace
}  // namespace stele
