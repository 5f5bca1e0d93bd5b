// Inclusion and consistency proofs as JSON, and their offline check.
#include <simdjson.h>

#include "util/confined_env.h"
#include "integrity/hash_store.h"
#include "integrity/merkle.h"
#include "storage/log_snapshot.h"
#include "stele/integrity.h"

namespace stele {
namespace {

std::string HashList(const std::vector<Hash>& proof) {
  std::string s = "[";
  for (size_t i = 0; i < proof.size(); ++i) {
    if (i) s += ",";
    s += "\"" + ToHex(proof[i]) + "\"";
  }
  return s + "]";
}

Status CheckSize(uint64_t size, uint64_t current) {
  if (size > current) {
    return Status::InvalidArgument("tree size " + std::to_string(size) + " is beyond the log's " +
                                   std::to_string(current) + " events");
  }
  return Status::Ok();
}

class ProverImpl final : public Prover {
 public:
  ProverImpl(std::unique_ptr<Env> env, const std::string& dir, std::unique_ptr<LogSnapshot> snapshot, uint64_t size)
      : env_(std::move(env)), snapshot_(std::move(snapshot)), size_(size), source_(env_.get(), dir, SnapshotLoader()) {}

  uint64_t size() const override { return size_; }

  Result<std::string> InclusionJson(uint64_t seq, uint64_t size) override {
    if (size == 0) size = size_;
    STELE_RETURN_IF_ERROR(CheckSize(size, size_));
    if (seq == 0 || seq > size) {
      return Status::InvalidArgument("seq " + std::to_string(seq) + " is not in a tree of size " +
                                     std::to_string(size));
    }
    auto leaf = source_.FullNode(0, seq - 1);
    if (!leaf.ok()) return leaf.status();
    auto proof = InclusionProof(source_, seq - 1, size);
    if (!proof.ok()) return proof.status();
    auto root = source_.RangeHash(0, size);
    if (!root.ok()) return root.status();
    // Never hand out a proof that does not check (a damaged hash file would).
    Status s = VerifyInclusion(*leaf, seq - 1, size, *proof, *root);
    if (!s.ok()) return Status::Corruption("generated inclusion proof does not verify: " + s.message());
    return "{\"seq\":" + std::to_string(seq) + ",\"leaf_index\":" + std::to_string(seq - 1) +
           ",\"tree_size\":" + std::to_string(size) + ",\"leaf_hash\":\"" + ToHex(*leaf) + "\",\"root_hash\":\"" +
           ToHex(*root) + "\",\"proof\":" + HashList(*proof) + "}";
  }

  Result<std::string> ConsistencyJson(uint64_t old_size, uint64_t new_size) override {
    if (new_size == 0) new_size = size_;
    STELE_RETURN_IF_ERROR(CheckSize(new_size, size_));
    if (old_size > new_size) {
      return Status::InvalidArgument("old size " + std::to_string(old_size) + " is larger than new size " +
                                     std::to_string(new_size));
    }
    auto proof = ConsistencyProof(source_, old_size, new_size);
    if (!proof.ok()) return proof.status();
    auto old_root = source_.RangeHash(0, old_size);
    if (!old_root.ok()) return old_root.status();
    auto new_root = source_.RangeHash(0, new_size);
    if (!new_root.ok()) return new_root.status();
    Status s = VerifyConsistency(old_size, new_size, *old_root, *new_root, *proof);
    if (!s.ok()) return Status::Corruption("generated consistency proof does not verify: " + s.message());
    return "{\"old_size\":" + std::to_string(old_size) + ",\"new_size\":" + std::to_string(new_size) +
           ",\"old_root\":\"" + ToHex(*old_root) + "\",\"new_root\":\"" + ToHex(*new_root) +
           "\",\"proof\":" + HashList(*proof) + "}";
  }

 private:
  LeafLoader SnapshotLoader() {
    return [this](uint64_t first, uint64_t count, std::vector<Hash>* out) -> Status {
      out->clear();
      const uint64_t end = std::min(first + count, size_);
      if (end <= first) return Status::Corruption("leaf " + std::to_string(first) + " is beyond the log");
      Sha256& sha = ThreadSha256();
      return snapshot_->ForEachRecord(first + 1, end,
                                      [&](uint64_t, std::string_view rec) { out->push_back(sha.LeafHash(rec)); });
    };
  }

  std::unique_ptr<Env> env_;  // the data directory's ConfinedEnv, used by both below
  std::unique_ptr<LogSnapshot> snapshot_;
  uint64_t size_;
  HashStoreReader source_;
};

}  // namespace

Result<std::unique_ptr<Prover>> Prover::Open(const std::string& dir) {
  auto env = std::make_unique<ConfinedEnv>(dir);
  auto snapshot = LogSnapshot::Open(env.get(), dir);
  if (!snapshot.ok()) return snapshot.status();
  auto size = (*snapshot)->LastSeq();
  if (!size.ok()) return size.status();
  return std::unique_ptr<Prover>(new ProverImpl(std::move(env), dir, std::move(snapshot).value(), *size));
}

Result<std::string> ProveInclusionJson(const std::string& dir, uint64_t seq, uint64_t size) {
  auto prover = Prover::Open(dir);
  if (!prover.ok()) return prover.status();
  return (*prover)->InclusionJson(seq, size);
}

Result<std::string> ProveConsistencyJson(const std::string& dir, uint64_t old_size, uint64_t new_size) {
  auto prover = Prover::Open(dir);
  if (!prover.ok()) return prover.status();
  return (*prover)->ConsistencyJson(old_size, new_size);
}

Status VerifyProofJson(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string padded(json);
  if (parser.parse(padded).get(doc)) return Status::InvalidArgument("proof: not valid JSON");
  auto hash = [&](const char* key, Hash* out) -> Status {
    std::string_view hex;
    if (doc[key].get(hex) || !FromHex(hex, out)) {
      return Status::InvalidArgument(std::string("proof: field \"") + key + "\": want 64 hex digits");
    }
    return Status::Ok();
  };
  auto number = [&](const char* key, uint64_t* out) -> Status {
    if (doc[key].get(*out)) return Status::InvalidArgument(std::string("proof: field \"") + key + "\": want an integer");
    return Status::Ok();
  };
  std::vector<Hash> proof;
  simdjson::dom::array arr;
  if (doc["proof"].get(arr)) return Status::InvalidArgument("proof: field \"proof\": want an array of hex hashes");
  for (auto e : arr) {
    std::string_view hex;
    Hash h;
    if (e.get(hex) || !FromHex(hex, &h)) return Status::InvalidArgument("proof: field \"proof\": bad hash");
    proof.push_back(h);
  }
  if (doc["leaf_index"].error() == simdjson::SUCCESS) {
    uint64_t index, size;
    Hash leaf, root;
    STELE_RETURN_IF_ERROR(number("leaf_index", &index));
    STELE_RETURN_IF_ERROR(number("tree_size", &size));
    STELE_RETURN_IF_ERROR(hash("leaf_hash", &leaf));
    STELE_RETURN_IF_ERROR(hash("root_hash", &root));
    uint64_t seq;
    if (!number("seq", &seq).ok() || seq != index + 1) {
      return Status::InvalidArgument("proof: field \"seq\": must be leaf_index + 1");
    }
    return VerifyInclusion(leaf, index, size, proof, root);
  }
  uint64_t old_size, new_size;
  Hash old_root, new_root;
  STELE_RETURN_IF_ERROR(number("old_size", &old_size));
  STELE_RETURN_IF_ERROR(number("new_size", &new_size));
  STELE_RETURN_IF_ERROR(hash("old_root", &old_root));
  STELE_RETURN_IF_ERROR(hash("new_root", &new_root));
  return VerifyConsistency(old_size, new_size, old_root, new_root, proof);
}

}  // namespace stele
