# cmake --install support: headers, the static library and a descent-config.cmake so a user's
# project can find_package(descent) and link descent::descent.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
install(TARGETS descent EXPORT descentTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/descent DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT descentTargets NAMESPACE descent:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/descent)
configure_package_config_file(cmake/descent-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/descent-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/descent)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/descent-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/descent-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/descent-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/descent)
