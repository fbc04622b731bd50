// Fuzzes parse_udp_frame and parse_moldudp64 (src/feed) with any bytes as an
// Ethernet frame. Proves that neither reads outside its input (ASan), that an
// accepted frame's payload lies inside the frame and a MoldUDP64 packet the
// parser accepts can be walked to its end by the message cursor (which
// asserts otherwise). The UDP payload, and the frame itself, are both tried
// as MoldUDP64. Seeds: corpus/feed_packet (a UDP frame carrying MoldUDP64,
// tagged and untagged, a heartbeat).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "feed/moldudp64.h"
#include "feed/packet.h"

namespace {

void walk_mold(std::span<const std::byte> payload) {
    tl::feed::mold_packet packet;
    if (tl::feed::parse_moldudp64(payload, packet) != tl::feed::mold_status::ok) return;
    size_t total = 0;
    uint16_t messages = 0;
    tl::feed::for_each_message(packet, [&](uint64_t, std::span<const std::byte> m) {
        if (m.data() < payload.data() || m.data() + m.size() > payload.data() + payload.size()) {
            std::abort();
        }
        total += 2 + m.size();
        ++messages;
    });
    if (messages != packet.message_count() || total != packet.messages.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const std::byte> frame(reinterpret_cast<const std::byte*>(data), size);
    tl::feed::udp_datagram datagram;
    if (tl::feed::parse_udp_frame(frame, datagram) == tl::feed::frame_status::ok) {
        if (datagram.payload.data() < frame.data() ||
            datagram.payload.data() + datagram.payload.size() > frame.data() + frame.size()) {
            std::abort();
        }
        walk_mold(datagram.payload);
    }
    walk_mold(frame);
    return 0;
}
