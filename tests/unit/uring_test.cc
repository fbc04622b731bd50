#include <gtest/gtest.h>
TEST(uring, placeholder) {}
