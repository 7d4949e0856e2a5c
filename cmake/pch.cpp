// Translation unit that owns jacnet's shared precompiled header (see JACNET_PCH in CMakeLists.txt).
