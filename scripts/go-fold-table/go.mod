module tenantguard.dev/go-fold-table

go 1.19
