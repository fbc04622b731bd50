// Classic pcap files written directly (the format is four fields of header
// and four per record), so the library needs no libpcap; the tests read the
// files back with libpcap when it is installed.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/assert.h"
#include "perf/feedgen/sink.h"

namespace tl::feedgen {
namespace {

constexpr uint32_t pcap_magic_microseconds = 0xa1b2c3d4;
constexpr uint32_t pcap_magic_nanoseconds = 0xa1b23c4d;
constexpr uint32_t pcap_snap_length = 65535;
constexpr uint32_t linktype_ethernet = 1;
constexpr size_t pcap_buffer_bytes = 1 << 20;

// Native byte order, as libpcap writes them; readers detect it from the magic.
struct pcap_file_header {
    uint32_t magic;
    uint16_t version_major;
    uint16_t version_minor;
    int32_t this_zone;
    uint32_t sigfigs;
    uint32_t snap_length;
    uint32_t linktype;
};
static_assert(sizeof(pcap_file_header) == 24);

struct pcap_record_header {
    uint32_t seconds;
    uint32_t fraction;  // µs or ns, by the magic
    uint32_t captured_bytes;
    uint32_t original_bytes;
};
static_assert(sizeof(pcap_record_header) == 16);

class pcap_file_sink final : public frame_sink {
public:
    pcap_file_sink(std::FILE* file, std::string path, pcap_precision precision)
        : _file(file), _path(std::move(path)), _precision(precision), _buffer(pcap_buffer_bytes) {
        std::setvbuf(_file, _buffer.data(), _IOFBF, _buffer.size());
    }
    ~pcap_file_sink() override {
        if (_file != nullptr) std::fclose(_file);
    }

    result<void, std::string> write_header() {
        const pcap_file_header header{_precision == pcap_precision::nanoseconds
                                          ? pcap_magic_nanoseconds
                                          : pcap_magic_microseconds,
                                      2,
                                      4,
                                      0,
                                      0,
                                      pcap_snap_length,
                                      linktype_ethernet};
        if (std::fwrite(&header, sizeof header, 1, _file) != 1) return error();
        return {};
    }

    result<void, std::string> write(std::span<const timed_frame> frames) override {
        TL_ASSERT(_file != nullptr, "write() after finish()");
        for (const timed_frame& frame : frames) {
            TL_ASSERT(frame.bytes.size() <= pcap_snap_length && frame.time_ns >= 0);
            const auto size = static_cast<uint32_t>(frame.bytes.size());
            const int64_t fraction = _precision == pcap_precision::nanoseconds
                                         ? frame.time_ns % 1'000'000'000
                                         : frame.time_ns % 1'000'000'000 / 1000;
            const pcap_record_header header{static_cast<uint32_t>(frame.time_ns / 1'000'000'000),
                                            static_cast<uint32_t>(fraction), size, size};
            if (std::fwrite(&header, sizeof header, 1, _file) != 1 ||
                std::fwrite(frame.bytes.data(), 1, size, _file) != size) {
                return error();
            }
        }
        return {};
    }

    result<void, std::string> finish() override {
        std::FILE* file = std::exchange(_file, nullptr);
        if (file == nullptr) return {};
        const bool failed = std::ferror(file) != 0;
        if (std::fclose(file) != 0 || failed) return error();
        return {};
    }

    std::string describe() const override { return "pcap:" + _path; }

private:
    failure<std::string> error() const {
        return failure{fmt::format("{}: {}", _path, std::strerror(errno))};
    }

    std::FILE* _file;
    std::string _path;
    pcap_precision _precision;
    std::vector<char> _buffer;  // stdio's, outlives _file
};

}  // namespace

result<std::unique_ptr<frame_sink>, std::string> open_pcap_file_sink(const std::string& path,
                                                                     pcap_precision precision) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) return failure{fmt::format("{}: {}", path, std::strerror(errno))};
    auto sink = std::make_unique<pcap_file_sink>(file, path, precision);
    auto header = sink->write_header();
    if (!header) return failure{header.error()};
    return std::unique_ptr<frame_sink>(std::move(sink));
}

}  // namespace tl::feedgen
