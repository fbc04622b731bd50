// JSON string literals for the few places that write JSON by hand (the admin
// endpoint's /v1/status, tidectl's --json output, the load tools' result lines).
#pragma once

#include <string>
#include <string_view>

namespace tl {

// `text` as a JSON string literal, quotes included: quote, backslash and the
// control characters escaped (\n, \t, \r by name, the rest as \u00XX).
inline std::string json_string(std::string_view text) {
    constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (const auto u = static_cast<unsigned char>(c); u < 0x20) {
                    out += "\\u00";
                    out += hex[u >> 4];
                    out += hex[u & 0xf];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

}  // namespace tl
