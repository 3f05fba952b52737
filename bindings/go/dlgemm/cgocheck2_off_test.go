//go:build !goexperiment.cgocheck2

package dlgemm_test

// cgocheck2: see cgocheck2_on_test.go.
const cgocheck2 = false
