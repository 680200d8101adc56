// Package deploy holds no code: it is the deployment files (NATS
// configuration, stream specs, the compose file, Kubernetes manifests,
// dashboards) and the tests that keep them true. Those tests check what
// can be checked without a container engine or a cluster: the NATS
// configuration as nats-server -t would, the stream specs against the
// topology `ghostwriter streams apply` creates, the compose file and the
// Kubernetes objects against their schemas, and the Dockerfile's shape.
package deploy
