#----------------------------------------------------------------
# Generated CMake target import file for configuration "RelWithDebInfo".
#----------------------------------------------------------------

# Commands may need to know the format version.
set(CMAKE_IMPORT_FILE_VERSION 1)

# Import target "dlgemm::dlgemm" for configuration "RelWithDebInfo"
set_property(TARGET dlgemm::dlgemm APPEND PROPERTY IMPORTED_CONFIGURATIONS RELWITHDEBINFO)
set_target_properties(dlgemm::dlgemm PROPERTIES
  IMPORTED_LOCATION_RELWITHDEBINFO "${_IMPORT_PREFIX}/lib/libdlgemm.so.0.1.0"
  IMPORTED_SONAME_RELWITHDEBINFO "libdlgemm.so.0"
  )

list(APPEND _cmake_import_check_targets dlgemm::dlgemm )
list(APPEND _cmake_import_check_files_for_dlgemm::dlgemm "${_IMPORT_PREFIX}/lib/libdlgemm.so.0.1.0" )

# Import target "dlgemm::dlgemm_static" for configuration "RelWithDebInfo"
set_property(TARGET dlgemm::dlgemm_static APPEND PROPERTY IMPORTED_CONFIGURATIONS RELWITHDEBINFO)
set_target_properties(dlgemm::dlgemm_static PROPERTIES
  IMPORTED_LINK_INTERFACE_LANGUAGES_RELWITHDEBINFO "C"
  IMPORTED_LOCATION_RELWITHDEBINFO "${_IMPORT_PREFIX}/lib/libdlgemm.a"
  )

list(APPEND _cmake_import_check_targets dlgemm::dlgemm_static )
list(APPEND _cmake_import_check_files_for_dlgemm::dlgemm_static "${_IMPORT_PREFIX}/lib/libdlgemm.a" )

# Commands beyond this point should not need to know the version.
set(CMAKE_IMPORT_FILE_VERSION)
