#include "raft/codec.h"

#include <absl/strings/str_format.h>

namespace tl::raft {
namespace {

class writer {
public:
    explicit writer(std::vector<std::byte>& out) : _out(out) {}
    void u8(uint8_t v) { _out.push_back(static_cast<std::byte>(v)); }
    void u32(uint32_t v) { integer(v, 4); }
    void u64(uint64_t v) { integer(v, 8); }
    void raw(std::span<const std::byte> bytes) { _out.insert(_out.end(), bytes.begin(), bytes.end()); }

private:
    void integer(uint64_t v, int bytes) {
        for (int i = bytes - 1; i >= 0; --i) _out.push_back(static_cast<std::byte>(v >> (8 * i)));
    }
    std::vector<std::byte>& _out;
};

// Bounds-checked; the first problem sticks and later reads return zeros.
class reader {
public:
    explicit reader(std::span<const std::byte> bytes) : _bytes(bytes) {}
    bool ok() const noexcept { return _problem.empty(); }
    const std::string& problem() const noexcept { return _problem; }
    size_t remaining() const noexcept { return _bytes.size() - _position; }
    void fail(std::string problem) {
        if (_problem.empty()) _problem = std::move(problem);
    }
    uint8_t u8(const char* what) { return static_cast<uint8_t>(integer(1, what)); }
    uint32_t u32(const char* what) { return static_cast<uint32_t>(integer(4, what)); }
    uint64_t u64(const char* what) { return integer(8, what); }
    std::span<const std::byte> bytes(size_t length, const char* what) {
        if (!take(length, what)) return {};
        return _bytes.subspan(_position - length, length);
    }

private:
    uint64_t integer(size_t length, const char* what) {
        if (!take(length, what)) return 0;
        uint64_t v = 0;
        for (size_t i = 0; i < length; ++i) {
            v = (v << 8) | std::to_integer<uint64_t>(_bytes[_position - length + i]);
        }
        return v;
    }
    bool take(size_t length, const char* what) {
        if (!ok()) return false;
        if (length > remaining()) {
            fail(absl::StrFormat("truncated: %s needs %d bytes at offset %d, %d left", what,
                                 length, _position, remaining()));
            return false;
        }
        _position += length;
        return true;
    }
    std::span<const std::byte> _bytes;
    size_t _position = 0;
    std::string _problem;
};

constexpr size_t entry_header_bytes = 8 + 8 + 1 + 4;

void write_entry(writer& w, const entry& e) {
    TL_ASSERT(e.data.size() <= max_encoded_entry_bytes, "entry too large to encode");
    w.u64(e.term);
    w.u64(e.index);
    w.u8(static_cast<uint8_t>(e.kind));
    w.u32(static_cast<uint32_t>(e.data.size()));
    w.raw(e.data);
}

entry read_entry(reader& r) {
    entry e;
    e.term = r.u64("entry term");
    e.index = r.u64("entry index");
    const uint8_t kind = r.u8("entry kind");
    if (r.ok() && kind > static_cast<uint8_t>(entry_kind::no_op)) {
        r.fail(absl::StrFormat("unknown entry kind %d", kind));
    }
    e.kind = static_cast<entry_kind>(kind);
    const uint32_t length = r.u32("entry data length");
    if (r.ok() && length > max_encoded_entry_bytes) {
        r.fail(absl::StrFormat("entry data of %d bytes", length));
    }
    auto data = r.bytes(length, "entry data");
    e.data.assign(data.begin(), data.end());
    return e;
}

void write_members(writer& w, const std::vector<node_id>& ids) {
    TL_ASSERT(ids.size() <= max_configuration_members);
    w.u32(static_cast<uint32_t>(ids.size()));
    for (node_id id : ids) w.u64(id);
}

std::vector<node_id> read_members(reader& r, const char* what) {
    const uint32_t count = r.u32(what);
    std::vector<node_id> ids;
    if (!r.ok()) return ids;
    if (count > max_configuration_members || count > r.remaining() / 8) {
        r.fail(absl::StrFormat("%s: %d members", what, count));
        return ids;
    }
    ids.reserve(count);
    for (uint32_t i = 0; i < count; ++i) ids.push_back(r.u64("member id"));
    return ids;
}

void write_snapshot(writer& w, const snapshot& s) {
    TL_ASSERT(s.data.size() <= max_encoded_snapshot_bytes, "snapshot too large to encode");
    w.u64(s.meta.index);
    w.u64(s.meta.term);
    write_members(w, s.meta.configuration.voters);
    write_members(w, s.meta.configuration.learners);
    w.u32(static_cast<uint32_t>(s.data.size()));
    w.raw(s.data);
}

snapshot read_snapshot(reader& r) {
    snapshot s;
    s.meta.index = r.u64("snapshot index");
    s.meta.term = r.u64("snapshot term");
    s.meta.configuration.voters = read_members(r, "voters");
    s.meta.configuration.learners = read_members(r, "learners");
    const uint32_t length = r.u32("snapshot data length");
    if (r.ok() && length > max_encoded_snapshot_bytes) {
        r.fail(absl::StrFormat("snapshot data of %d bytes", length));
    }
    auto data = r.bytes(length, "snapshot data");
    s.data.assign(data.begin(), data.end());
    return s;
}

template <typename T>
result<T, std::string> finish(reader& r, T value) {
    if (r.ok() && r.remaining() != 0) {
        r.fail(absl::StrFormat("%d trailing bytes", r.remaining()));
    }
    if (!r.ok()) return failure{r.problem()};
    return value;
}

}  // namespace

std::vector<std::byte> encode(const message& m) {
    std::vector<std::byte> out;
    writer w(out);
    w.u8(codec_version);
    w.u8(static_cast<uint8_t>(m.kind));
    w.u64(m.from);
    w.u64(m.to);
    w.u64(m.term);
    w.u64(m.log_term);
    w.u64(m.index);
    w.u64(m.commit);
    w.u8(m.reject ? 1 : 0);
    w.u64(m.reject_hint);
    w.u64(m.hint_term);
    w.u64(m.context);
    w.u32(static_cast<uint32_t>(m.entries.size()));
    for (const auto& e : m.entries) write_entry(w, e);
    w.u8(m.snapshot ? 1 : 0);
    if (m.snapshot) write_snapshot(w, *m.snapshot);
    return out;
}

result<message, std::string> decode(std::span<const std::byte> bytes) {
    reader r(bytes);
    message m;
    const uint8_t version = r.u8("version");
    if (r.ok() && version != codec_version) {
        return failure{absl::StrFormat("message version %d; this build reads %d", version,
                                       codec_version)};
    }
    const uint8_t kind = r.u8("kind");
    if (r.ok() && kind > static_cast<uint8_t>(message_kind::read_index_response)) {
        r.fail(absl::StrFormat("unknown message kind %d", kind));
    }
    m.kind = static_cast<message_kind>(kind);
    m.from = r.u64("from");
    m.to = r.u64("to");
    m.term = r.u64("term");
    m.log_term = r.u64("log term");
    m.index = r.u64("index");
    m.commit = r.u64("commit");
    const uint8_t reject = r.u8("reject");
    if (r.ok() && reject > 1) r.fail(absl::StrFormat("reject flag %d", reject));
    m.reject = reject == 1;
    m.reject_hint = r.u64("reject hint");
    m.hint_term = r.u64("hint term");
    m.context = r.u64("context");
    const uint32_t count = r.u32("entry count");
    if (r.ok() && count > r.remaining() / entry_header_bytes) {
        r.fail(absl::StrFormat("%d entries cannot fit in %d bytes", count, r.remaining()));
    }
    if (r.ok()) m.entries.reserve(count);
    for (uint32_t i = 0; i < count && r.ok(); ++i) m.entries.push_back(read_entry(r));
    const uint8_t has_snapshot = r.u8("snapshot flag");
    if (r.ok() && has_snapshot > 1) r.fail(absl::StrFormat("snapshot flag %d", has_snapshot));
    if (r.ok() && has_snapshot == 1) m.snapshot = read_snapshot(r);
    return finish(r, std::move(m));
}

void encode_entry(const entry& e, std::vector<std::byte>& out) {
    writer w(out);
    write_entry(w, e);
}

result<entry, std::string> decode_entry(std::span<const std::byte> bytes) {
    reader r(bytes);
    entry e = read_entry(r);
    return finish(r, std::move(e));
}

std::vector<std::byte> encode_snapshot(const snapshot& s) {
    std::vector<std::byte> out;
    writer w(out);
    write_snapshot(w, s);
    return out;
}

result<snapshot, std::string> decode_snapshot(std::span<const std::byte> bytes) {
    reader r(bytes);
    snapshot s = read_snapshot(r);
    return finish(r, std::move(s));
}

}  // namespace tl::raft
