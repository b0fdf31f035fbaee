module github.com/headwater-io/headwater-go

go 1.22
