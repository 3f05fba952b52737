/* dlgemm — version macros and the run-time version query. */
#ifndef DLGEMM_VERSION_H_
#define DLGEMM_VERSION_H_

#include "dlgemm/export.h"

#define DLG_VERSION_MAJOR 0
#define DLG_VERSION_MINOR 1
#define DLG_VERSION_PATCH 0
/* One number that orders releases: major*10000 + minor*100 + patch. */
#define DLG_VERSION_NUMBER (DLG_VERSION_MAJOR * 10000 + DLG_VERSION_MINOR * 100 + DLG_VERSION_PATCH)
#define DLG_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* DLG_VERSION_NUMBER of the library actually loaded (may differ from the header's). */
DLG_API int dlg_version(void);
/* "MAJOR.MINOR.PATCH" of the library actually loaded; static storage. */
DLG_API const char* dlg_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* DLGEMM_VERSION_H_ */
