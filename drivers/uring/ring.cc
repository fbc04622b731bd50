#include "uring/ring.h"

#include <liburing.h>

#include <array>
#include <vector>

#include "base/assert.h"

namespace tl::uring {
namespace {

// user_data of an SQE whose CQE nobody waits for (cancel requests).
constexpr uint64_t ignored_tag = 0;

uint64_t tag_of(completion* done) noexcept {
    TL_ASSERT(done != nullptr, "an operation needs a completion");
    return reinterpret_cast<uint64_t>(done);
}

}  // namespace

io_result<std::unique_ptr<ring>> ring::create(const ring_options& options) {
    TL_ASSERT(options.submission_queue_entries > 0 &&
              options.completion_queue_entries >= options.submission_queue_entries);
    auto state = std::make_unique<io_uring>();
    // Preferred: one issuer; completion task work runs only when we enter
    // the kernel (no interrupts), and the kernel raises IORING_SQ_TASKRUN when
    // some is pending, so poll() can skip the syscall while nothing is due.
    // Older kernels lack these flags.
    const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        0,
    };
    int rc = -EINVAL;
    for (unsigned flags : flag_sets) {
        io_uring_params params{};
        params.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
        params.cq_entries = options.completion_queue_entries;
        rc = io_uring_queue_init_params(options.submission_queue_entries, state.get(), &params);
        if (rc != -EINVAL) break;
    }
    if (rc < 0) return failure{error_from_errno(-rc)};
    return std::unique_ptr<ring>(new ring(std::move(state)));
}

ring::ring(std::unique_ptr<io_uring> ring_state) : _ring(std::move(ring_state)) {}

ring::~ring() {
    // Destroying a ring with operations in flight would leave completions
    // dangling: owners must cancel and drain first.
    TL_ASSERT(_in_flight == 0, "ring destroyed with operations in flight");
    io_uring_queue_exit(_ring.get());
}

io_uring_sqe* ring::next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(_ring.get());
    if (sqe == nullptr) {
        // SQ full: hand the queued entries to the kernel to make room.
        io_uring_submit(_ring.get());
        sqe = io_uring_get_sqe(_ring.get());
    }
    TL_ASSERT(sqe != nullptr, "submission queue still full after submit");
    ++_in_flight;
    return sqe;
}


#define TL_URING_PREP(done, prep_call)                                                         \
    do {                                                                                       \
        io_uring_sqe* sqe = next_sqe();                                                        \
        prep_call;                                                                             \
        io_uring_sqe_set_data64(sqe, tag_of(done));                                            \
    } while (false)

void ring::read(int fd, std::span<std::byte> buffer, uint64_t offset, completion* done) {
    TL_URING_PREP(done, io_uring_prep_read(sqe, fd, buffer.data(),
                                           static_cast<unsigned>(buffer.size()), offset));
}

void ring::write(int fd, std::span<const std::byte> buffer, uint64_t offset, completion* done) {
    TL_URING_PREP(done, io_uring_prep_write(sqe, fd, buffer.data(),
                                            static_cast<unsigned>(buffer.size()), offset));
}

void ring::read_fixed(int fd, std::span<std::byte> buffer, uint64_t offset,
                      uint16_t buffer_index, completion* done) {
    TL_URING_PREP(done, io_uring_prep_read_fixed(sqe, fd, buffer.data(),
                                                 static_cast<unsigned>(buffer.size()), offset,
                                                 buffer_index));
}

void ring::write_fixed(int fd, std::span<const std::byte> buffer, uint64_t offset,
                       uint16_t buffer_index, completion* done) {
    TL_URING_PREP(done, io_uring_prep_write_fixed(sqe, fd, buffer.data(),
                                                  static_cast<unsigned>(buffer.size()), offset,
                                                  buffer_index));
}

void ring::sync(int fd, sync_kind kind, completion* done) {
    const unsigned flags = kind == sync_kind::data_only ? IORING_FSYNC_DATASYNC : 0;
    TL_URING_PREP(done, io_uring_prep_fsync(sqe, fd, flags));
}

void ring::allocate(int fd, int mode, uint64_t offset, uint64_t length, completion* done) {
    TL_URING_PREP(done, io_uring_prep_fallocate(sqe, fd, mode, static_cast<off_t>(offset),
                                                static_cast<off_t>(length)));
}

void ring::truncate(int fd, uint64_t length, completion* done) {
    // liburing 2.3 has no prep helper for FTRUNCATE: fill the SQE by hand.
    constexpr uint8_t op_ftruncate = 55;
    TL_URING_PREP(done, io_uring_prep_rw(op_ftruncate, sqe, fd, nullptr, 0, length));
}

void ring::open_at(int directory_fd, const char* path, int flags, mode_t permissions,
                   completion* done) {
    TL_URING_PREP(done, io_uring_prep_openat(sqe, directory_fd, path, flags, permissions));
}

void ring::close(int fd, completion* done) {
    TL_URING_PREP(done, io_uring_prep_close(sqe, fd));
}

void ring::statx(int directory_fd, const char* path, int flags, unsigned mask, struct statx* out,
                 completion* done) {
    TL_URING_PREP(done, io_uring_prep_statx(sqe, directory_fd, path, flags, mask, out));
}

void ring::unlink_at(int directory_fd, const char* path, int flags, completion* done) {
    TL_URING_PREP(done, io_uring_prep_unlinkat(sqe, directory_fd, path, flags));
}

void ring::rename_at(int old_directory_fd, const char* old_path, int new_directory_fd,
                     const char* new_path, completion* done) {
    TL_URING_PREP(done, io_uring_prep_renameat(sqe, old_directory_fd, old_path,
                                               new_directory_fd, new_path, 0));
}

void ring::make_directory_at(int directory_fd, const char* path, mode_t permissions,
                             completion* done) {
    TL_URING_PREP(done, io_uring_prep_mkdirat(sqe, directory_fd, path, permissions));
}

void ring::accept(int fd, completion* done) {
    TL_URING_PREP(done, io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC));
}

void ring::connect(int fd, const sockaddr* address, socklen_t length, completion* done) {
    TL_URING_PREP(done, io_uring_prep_connect(sqe, fd, address, length));
}

void ring::receive(int fd, std::span<std::byte> buffer, completion* done) {
    TL_URING_PREP(done, io_uring_prep_recv(sqe, fd, buffer.data(), buffer.size(), 0));
}

void ring::send(int fd, std::span<const std::byte> buffer, completion* done) {
    TL_URING_PREP(done, io_uring_prep_send(sqe, fd, buffer.data(), buffer.size(), MSG_NOSIGNAL));
}

void ring::timeout(const __kernel_timespec* timeout, completion* done) {
    TL_URING_PREP(done, io_uring_prep_timeout(sqe, const_cast<__kernel_timespec*>(timeout), 0, 0));
}

#undef TL_URING_PREP

void ring::cancel(completion* target) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_cancel64(sqe, tag_of(target), 0);
    io_uring_sqe_set_data64(sqe, ignored_tag);
}

void ring::cancel_fd(int fd) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, ignored_tag);
}

io_result<void> ring::register_buffers(std::span<const std::span<std::byte>> buffers) {
    std::vector<iovec> vectors;
    vectors.reserve(buffers.size());
    for (auto buffer : buffers) vectors.push_back(iovec{buffer.data(), buffer.size()});
    io_uring_unregister_buffers(_ring.get());  // -ENXIO when none: fine
    const int rc = io_uring_register_buffers(_ring.get(), vectors.data(),
                                             static_cast<unsigned>(vectors.size()));
    if (rc < 0) return failure{error_from_errno(-rc)};
    return {};
}

bool ring::has_unsubmitted() const noexcept {
    return io_uring_sq_ready(_ring.get()) > 0;
}

unsigned ring::dispatch() {
    struct reaped {
        uint64_t tag;
        int32_t result;
        uint32_t flags;
    };
    std::array<reaped, max_completions_per_poll> batch;
    unsigned count = 0;
    unsigned head;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(_ring.get(), head, cqe) {
        batch[count++] = reaped{cqe->user_data, cqe->res, cqe->flags};
        if (count == batch.size()) break;
    }
    io_uring_cq_advance(_ring.get(), count);
    // Completions run after the CQ is advanced: they may queue and submit
    // more operations without touching the entries we are iterating.
    for (unsigned i = 0; i < count; ++i) {
        const reaped& r = batch[i];
        if ((r.flags & IORING_CQE_F_MORE) == 0) {
            TL_ASSERT(_in_flight > 0, "completion without an operation");
            --_in_flight;
        }
        if (r.tag == ignored_tag) continue;
        reinterpret_cast<completion*>(r.tag)->complete(r.result, r.flags);
    }
    return count;
}

unsigned ring::poll() {
    if (_in_flight == 0) return 0;
    const unsigned kernel_flags = __atomic_load_n(_ring->sq.kflags, __ATOMIC_ACQUIRE);
    const bool kernel_has_work = (kernel_flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0;
    if (io_uring_sq_ready(_ring.get()) > 0 || kernel_has_work) {
        io_uring_submit_and_get_events(_ring.get());
    }
    return dispatch();
}

unsigned ring::wait(std::optional<duration_ns> timeout) {
    io_uring_cqe* cqe = nullptr;
    if (timeout) {
        const auto ns = std::max<int64_t>(timeout->count(), 0);
        __kernel_timespec ts{};
        ts.tv_sec = ns / 1'000'000'000;
        ts.tv_nsec = ns % 1'000'000'000;
        // -ETIME (timed out) and -EINTR (signal) are both just "nothing yet".
        io_uring_submit_and_wait_timeout(_ring.get(), &cqe, 1, &ts, nullptr);
    } else {
        io_uring_submit_and_wait(_ring.get(), 1);
    }
    return dispatch();
}

}  // namespace tl::uring
