#include <gtest/gtest.h>
#include "protocol/codec.hpp"
TEST(Smoke, Builds) { SUCCEED(); }
