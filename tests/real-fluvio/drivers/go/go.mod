module headwater-produce-driver

go 1.22

require github.com/headwater-io/headwater-go v0.0.0

replace github.com/headwater-io/headwater-go => ../../../../bindings-go
