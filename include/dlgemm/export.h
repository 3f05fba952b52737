/* dlgemm — symbol visibility. Everything not marked DLG_API is hidden. */
#ifndef DLGEMM_EXPORT_H_
#define DLGEMM_EXPORT_H_

#if defined(_WIN32)
#  if defined(DLG_BUILDING_LIBRARY)
#    define DLG_API __declspec(dllexport)
#  else
#    define DLG_API
#  endif
#else
#  define DLG_API __attribute__((visibility("default")))
#endif

#endif /* DLGEMM_EXPORT_H_ */
