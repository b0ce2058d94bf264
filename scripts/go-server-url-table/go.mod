module tenantguard.dev/go-server-url-table

go 1.19
