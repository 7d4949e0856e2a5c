// A consumer of the installed jacnet package (built by the install_consumer test).
#include <jacnet/jacnet.hpp>

#include <cstdio>

int main() {
  jacnet::Shape s{1, 28, 28};
  if (s.size() != 784) return 1;
  std::printf("consumer: jacnet found, shape %s\n", s.str().c_str());
  return 0;
}
