//go:build goexperiment.cgocheck2

package dlgemm_test

// cgocheck2 reports whether this test binary checks the cgo pointer rules fully (built with
// GOEXPERIMENT=cgocheck2); scripts/test_go.sh insists on it (DLGEMM_REQUIRE_CGOCHECK2=1).
const cgocheck2 = true
