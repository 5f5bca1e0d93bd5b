// Signed notes: byte-exact interop with the published vectors.
//
// Vectors: the example key and note of Go's golang.org/x/mod/sumdb/note
// package documentation (BSD-3-Clause), and the verifier-key example of the
// C2SP signed-note specification.  Only the data is copied.
#include <gtest/gtest.h>

#include "integrity/note.h"

namespace stele {
namespace {

constexpr const char* kGoSigner = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr const char* kGoVerifier = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr const char* kGoText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr const char* kGoNote =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

TEST(Note, GoSumdbVectorVerifies) {
  auto v = ParseNoteVerifier(kGoVerifier);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->key_id, 0xc74f20a3u);
  auto text = OpenNote(kGoNote, *v);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, kGoText);
}

TEST(Note, SigningReproducesTheGoNoteByteForByte) {
  auto s = ParseNoteSigner(kGoSigner);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->Verifier().ToString(), kGoVerifier);
  EXPECT_EQ(s->ToString(), kGoSigner);
  auto note = SignNote(kGoText, *s);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(*note, kGoNote);  // Ed25519 is deterministic
}

TEST(Note, C2spSpecVerifierKeyParses) {
  auto v = ParseNoteVerifier("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->name, "example.com/foo");
  EXPECT_EQ(v->key_id, 0x530d903au);
  EXPECT_FALSE(ParseNoteVerifier("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k").ok());
}

TEST(Note, TamperedTextOrSignatureFails) {
  auto v = *ParseNoteVerifier(kGoVerifier);
  std::string bad = kGoNote;
  bad[3] = 'X';
  EXPECT_EQ(OpenNote(bad, v).status().code(), StatusCode::kCorruption);
  std::string bad_sig = kGoNote;
  bad_sig[bad_sig.size() - 10] = bad_sig[bad_sig.size() - 10] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(OpenNote(bad_sig, v).ok());
  auto other = *GenerateNoteSigner("PeterNeumann");
  auto forged = *SignNote(kGoText, other);
  auto r = OpenNote(forged, v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no signature by PeterNeumann+c74f20a3"), std::string::npos);
}

TEST(Note, GeneratedKeysRoundTrip) {
  auto s = GenerateNoteSigner("stele/test-log");
  ASSERT_TRUE(s.ok());
  auto again = ParseNoteSigner(s->ToString());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key, s->public_key);
  auto note = SignNote("stele/test-log\n5\nAAAA\n", *s);
  ASSERT_TRUE(note.ok());
  EXPECT_TRUE(OpenNote(*note, *ParseNoteVerifier(s->Verifier().ToString())).ok());
  EXPECT_FALSE(GenerateNoteSigner("bad name").ok());
  EXPECT_FALSE(SignNote("no newline", *s).ok());
}

}  // namespace
}  // namespace stele
