module github.com/dlgemm/dlgemm/conformance/runners/go

go 1.24

require github.com/dlgemm/dlgemm/bindings/go v0.0.0

// The binding in this repository, not a published version.
replace github.com/dlgemm/dlgemm/bindings/go => ../../../bindings/go
