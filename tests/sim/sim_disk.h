// A simulated disk for crash testing, driven by a seed.
//
// Each file keeps two images: what the (simulated) kernel holds now, and what
// is durable. Writes, allocations and truncations change the current image and
// are remembered as unsynced operations; sync() makes them durable. crash()
// keeps the durable image plus a random prefix of the unsynced operations,
// where the last kept write may be torn at any byte, and throws the rest
// away: exactly what a power cut can leave behind. flip_bits() corrupts
// durable data in place (latent media errors).
//
// Every operation suspends once through the executor, so concurrent tasks
// interleave in the seeded order. Directory operations are durable at once
// (a simplification: the storage engine syncs directories anyway).
// O_DIRECT alignment is enforced for files opened with direct_io::preferred.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/sim_executor.h"
#include "storage/disk.h"

namespace tl::sim {

class sim_disk final : public storage::disk {
public:
    explicit sim_disk(sim_executor& executor) : _executor(executor) {}

    task<storage::io_result<std::unique_ptr<storage::disk_file>>> open(
        std::string path, uring::open_mode mode, storage::direct_io direct) override;
    task<storage::io_result<void>> make_directory(std::string path) override;
    task<storage::io_result<void>> remove_file(std::string path) override;
    task<storage::io_result<void>> remove_directory(std::string path) override;
    task<storage::io_result<void>> rename(std::string from, std::string to) override;
    task<storage::io_result<void>> sync_directory(std::string path) override;
    storage::io_result<std::vector<std::string>> list_directory(const std::string& path) override;
    storage::io_result<uint64_t> free_bytes(const std::string& path) override;

    // ---- fault injection ----
    // A power cut: see the header comment. Open files become stale (their
    // operations fail with bad_descriptor); reopen after recovery.
    void crash();
    // Flips `count` random bits in the durable images of files whose path
    // contains `path_filter`.
    void flip_bits(size_t count, const std::string& path_filter);
    // Makes every write/allocate fail with no_space while on.
    void set_full(bool full) noexcept { _full = full; }
    void set_free_bytes(uint64_t bytes) noexcept { _free_bytes = bytes; }

    // Test access to a file's current image (what reads return).
    const std::vector<std::byte>* contents(const std::string& path) const;

private:
    friend class sim_file;
    struct unsynced_op {
        enum class kind : uint8_t { write, resize } type;
        uint64_t offset = 0;  // write: where; resize: new size
        std::vector<std::byte> bytes;
    };
    struct file_state {
        std::vector<std::byte> current;
        std::vector<std::byte> durable;
        std::vector<unsynced_op> unsynced;
        uint64_t generation = 0;  // bumped by crash(): stale handles fail
    };

    auto io_point() { return _executor.yield(); }

    sim_executor& _executor;
    std::map<std::string, std::shared_ptr<file_state>> _files;
    std::map<std::string, bool> _directories;
    uint64_t _generation = 0;
    bool _full = false;
    uint64_t _free_bytes = uint64_t{1} << 40;
};

}  // namespace tl::sim
