module github.com/dlgemm/dlgemm/bindings/go

go 1.24
