// One io_uring per shard thread.
//
// Contract: a ring is created, used and destroyed on one thread (the kernel
// enforces it: IORING_SETUP_SINGLE_ISSUER). poll() is cheap enough to call on
// every loop iteration: it enters the kernel only to submit, or when the
// kernel flagged pending completions (IORING_SETUP_TASKRUN_FLAG). Each operation takes a
// `completion*` that must stay alive until its complete() is called; the ring
// calls complete() from poll()/wait() on the owning thread, after it has
// copied the CQEs out, so a completion may queue new operations freely.
//
// user_data is a typed tag decoded in one place (ring.cc: dispatch): either a
// completion pointer, or an internal marker whose CQE is dropped (the result
// of a cancellation request).
//
// Only drivers/ include liburing; this header forward-declares its types.
#pragma once

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "base/clock.h"
#include "uring/io_error.h"

struct io_uring;
struct io_uring_sqe;
struct __kernel_timespec;

namespace tl::uring {

class completion {
public:
    // `result` is the CQE's res: >= 0 on success, -errno on failure.
    virtual void complete(int32_t result, uint32_t flags) noexcept = 0;

protected:
    ~completion() = default;
};

struct ring_options {
    unsigned submission_queue_entries = 256;
    unsigned completion_queue_entries = 4096;
};

enum class sync_kind : uint8_t { data_only, full };

class ring {
public:
    // Completions dispatched by one poll()/wait() call, at most.
    static constexpr unsigned max_completions_per_poll = 256;

    static io_result<std::unique_ptr<ring>> create(const ring_options& options);
    ~ring();
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;

    // ---- operations: each queues one SQE; `done` receives its CQE ----
    void read(int fd, std::span<std::byte> buffer, uint64_t offset, completion* done);
    void write(int fd, std::span<const std::byte> buffer, uint64_t offset, completion* done);
    void read_fixed(int fd, std::span<std::byte> buffer, uint64_t offset, uint16_t buffer_index,
                    completion* done);
    void write_fixed(int fd, std::span<const std::byte> buffer, uint64_t offset,
                     uint16_t buffer_index, completion* done);
    void sync(int fd, sync_kind kind, completion* done);
    void allocate(int fd, int mode, uint64_t offset, uint64_t length, completion* done);
    // IORING_OP_FTRUNCATE (kernel 6.9+); older kernels answer -EINVAL.
    void truncate(int fd, uint64_t length, completion* done);
    void open_at(int directory_fd, const char* path, int flags, mode_t permissions,
                 completion* done);
    void close(int fd, completion* done);
    void statx(int directory_fd, const char* path, int flags, unsigned mask, struct statx* out,
               completion* done);
    void unlink_at(int directory_fd, const char* path, int flags, completion* done);
    void rename_at(int old_directory_fd, const char* old_path, int new_directory_fd,
                   const char* new_path, completion* done);
    void make_directory_at(int directory_fd, const char* path, mode_t permissions,
                           completion* done);
    void accept(int fd, completion* done);
    void connect(int fd, const sockaddr* address, socklen_t length, completion* done);
    void receive(int fd, std::span<std::byte> buffer, completion* done);
    void send(int fd, std::span<const std::byte> buffer, completion* done);
    // `timeout` must stay valid until the next submit (poll or wait).
    void timeout(const __kernel_timespec* timeout, completion* done);
    // Asks the kernel to cancel the operation of `target`; `target` still gets
    // its own CQE (usually -ECANCELED). The cancel request's own CQE is dropped.
    void cancel(completion* target);
    // Cancels every operation on `fd`.
    void cancel_fd(int fd);

    // ---- registered buffers ----
    // Registers `buffers` as fixed buffers 0..n-1 (replacing earlier ones).
    io_result<void> register_buffers(std::span<const std::span<std::byte>> buffers);

    // ---- driving ----
    // Submits queued SQEs and dispatches the completions already available.
    // Non-blocking. Returns the number of completions dispatched.
    unsigned poll();
    // Submits, then blocks until at least one completion or `timeout`
    // (nullopt: no timeout); dispatches what is available.
    unsigned wait(std::optional<duration_ns> timeout);

    // Operations submitted or queued whose completion has not been dispatched.
    unsigned in_flight() const noexcept { return _in_flight; }
    bool has_unsubmitted() const noexcept;

private:
    explicit ring(std::unique_ptr<io_uring> ring_state);
    io_uring_sqe* next_sqe();
    unsigned dispatch();

    std::unique_ptr<io_uring> _ring;
    unsigned _in_flight = 0;
};

}  // namespace tl::uring
