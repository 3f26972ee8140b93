module ovaboot.test/controlplane/htpasswd

go 1.25.0

require (
	github.com/tg123/go-htpasswd v1.2.5
	golang.org/x/crypto v0.45.0
	k8s.io/apimachinery v0.34.10
)

require (
	github.com/GehirnInc/crypt v0.0.0-20230320061759-8cc1b52080c5 // indirect
	github.com/go-logr/logr v1.4.3 // indirect
	k8s.io/klog/v2 v2.130.1 // indirect
	k8s.io/utils v0.0.0-20250604170112-4c0f3b243397 // indirect
)
