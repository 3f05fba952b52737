/* Status strings and the thread-local error message. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

static _Thread_local char g_last_error[1024];

const char* dlg_status_string(dlg_status_t status) {
  switch (status) {
#define DLG_STATUS_CASE_(name, value, text) case name: return text;
    DLG_STATUS_LIST(DLG_STATUS_CASE_)
#undef DLG_STATUS_CASE_
  }
  return "unknown status";
}

const char* dlg_status_name(dlg_status_t status) {
  switch (status) {
#define DLG_STATUS_CASE_(name, value, text) case name: return #name;
    DLG_STATUS_LIST(DLG_STATUS_CASE_)
#undef DLG_STATUS_CASE_
  }
  return "DLG_UNKNOWN_STATUS";
}

const char* dlg_last_error(void) { return g_last_error; }
void dlg_clear_error(void) { g_last_error[0] = '\0'; }

dlg_status_t dlg_fail(dlg_status_t status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
  va_end(ap);
  return status;
}

void dlg_error_prefix(const char* what) {
  /* Built by hand: snprintf("%s: %s") into a same-sized buffer trips -Wformat-truncation. */
  char tmp[sizeof g_last_error];
  size_t n = strnlen(what, sizeof tmp - 3);
  memcpy(tmp, what, n);
  tmp[n] = ':';
  tmp[n + 1] = ' ';
  size_t m = strnlen(g_last_error, sizeof tmp - n - 3);
  memcpy(tmp + n + 2, g_last_error, m);
  tmp[n + 2 + m] = '\0';
  memcpy(g_last_error, tmp, n + 3 + m);
}

int dlg_version(void) { return DLG_VERSION_NUMBER; }
const char* dlg_version_string(void) { return DLG_VERSION_STRING; }
