// A framed-message transport between the servers of a cluster: TCP on
// io_uring (drivers/uring), generic bytes (the Raft driver sends codec.h
// messages; nothing here knows Raft).
//
// Each transport listens on one address and keeps one outgoing connection per
// peer, opened lazily on the first send and reopened after a failure with a
// bounded exponential backoff. Frames to a peer wait in a bounded queue; when
// it is full a frame is dropped (the oldest by default) and counted: callers
// must tolerate loss (Raft does). A frame in flight when a connection breaks
// is lost too. Connections are one-way: a peer's frames come in on the
// connection it opened, which starts with a hello naming its id.
//
// Wire format (big-endian): frame = length 4 | crc 4 (CRC-32C of the
// payload) | payload. The first frame of a connection is the hello:
// magic "TLTP" | version 1 | sender id 8. A bad hello, a frame over
// max_frame_bytes or a CRC mismatch closes the connection (counted).
//
// Threading and lifetime: a transport belongs to the shard whose ring it
// uses; every call comes from there, and on_frame is called there. stop()
// must complete before it is destroyed. on_frame's span is valid only during
// the call. Known limit: stop() waits for a connect() in flight, which the
// kernel bounds (refused at once on loopback; up to its SYN retries for an
// unreachable host).
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <absl/functional/any_invocable.h>

#include "base/executor.h"
#include "base/result.h"
#include "base/task.h"
#include "uring/ring.h"
#include "uring/socket.h"

namespace tl::transport {

using peer_id = uint64_t;

enum class overflow_policy : uint8_t { drop_oldest, drop_newest };

struct transport_options {
    peer_id self = 0;  // sent in the hello; never 0
    size_t max_queued_frames_per_peer = 4096;
    uint64_t max_queued_bytes_per_peer = 64 << 20;
    uint32_t max_frame_bytes = 64 << 20;  // larger sends are refused, larger receives close
    uint64_t max_coalesced_bytes = 256 << 10;  // queued frames sent in one write
    duration_ns reconnect_backoff_min = std::chrono::milliseconds(10);
    duration_ns reconnect_backoff_max = std::chrono::seconds(1);
    overflow_policy overflow = overflow_policy::drop_oldest;
};

struct transport_stats {
    uint64_t frames_queued = 0;
    uint64_t frames_sent = 0;
    uint64_t frames_received = 0;
    uint64_t frames_dropped_queue_full = 0;
    uint64_t frames_dropped_unknown_peer = 0;
    uint64_t frames_dropped_too_large = 0;
    uint64_t frames_lost_in_flight = 0;  // in a write that failed
    uint64_t connects = 0;
    uint64_t connect_failures = 0;
    uint64_t connections_accepted = 0;
    uint64_t bad_frames = 0;  // bad hello, oversized, CRC mismatch
};

class transport {
public:
    using frame_handler = absl::AnyInvocable<void(peer_id from, std::span<const std::byte> frame)>;

    // `ring` and `executor` belong to the calling shard and outlive this.
    transport(uring::ring& ring, executor& executor, transport_options options);
    ~transport();
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    // Binds `address` (port 0: any) and starts accepting. At most once.
    [[nodiscard]] result<void, std::string> listen(const uring::socket_address& address);
    uring::socket_address local_address() const;

    // Where `id` listens (replaces an earlier address for new connections).
    void add_peer(peer_id id, uring::socket_address address);
    // Called for every frame received; set before listen().
    void on_frame(frame_handler handler) { _handler = std::move(handler); }

    // Queues `frame` for `to`; false if it was not queued (unknown peer,
    // too large, or dropped by drop_newest) or another frame was dropped
    // to make room (drop_oldest). Never waits.
    bool send(peer_id to, std::span<const std::byte> frame);

    // Closes everything; frames still queued are dropped. Idempotent.
    task<void> stop();

    const transport_stats& stats() const noexcept { return _stats; }
    const transport_options& options() const noexcept { return _options; }
    size_t queued_frames(peer_id to) const;

private:
    struct peer {
        peer_id id = 0;
        uring::socket_address address;
        std::deque<std::vector<std::byte>> queue;  // framed (header included)
        uint64_t queued_bytes = 0;
        uring::socket socket;
        std::unique_ptr<wakeup> wake;  // the loop's current wait
        bool running = false;
    };
    struct incoming {
        uring::socket socket;
    };

    task<void> run_peer(peer& p);
    task<void> accept_loop();
    task<void> read_connection(std::list<incoming>::iterator connection);
    task<void> wait(peer& p, duration_ns delay);
    void start(task<void> work);
    task<void> tracked(task<void> work);

    uring::ring& _ring;
    executor& _executor;
    transport_options _options;
    frame_handler _handler;
    uring::listener _listener;
    bool _listening = false;
    bool _stopping = false;
    bool _stopped = false;
    size_t _running = 0;
    std::map<peer_id, std::unique_ptr<peer>> _peers;
    std::list<incoming> _incoming;
    transport_stats _stats;
};

}  // namespace tl::transport
