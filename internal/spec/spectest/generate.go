// Package spectest generates realistic spec files for tests and benchmarks.
// It depends on nothing of this module, so that any package's tests can use
// it.
package spectest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// File is one generated file: its path in the repository layout
// (relative to the pipeline's folder, slash-separated) and its content.
type File struct {
	Path string
	Data []byte
}

// Generate returns n realistic spec files in the repository layout (projects/<p>.yaml for a handful of projects,
// then a mix of Cluster (eks and aks), Namespace, Addon, Blueprint, Workload, Repository, Pipeline, Override ... shaped like
// the real files in testdata/rafay-specs, 20–100 lines each), deterministic for a seed. Every file valid.
//
// The first files are the Projects (between 1 and 8 of them, fewer when n
// is small); the others are spread over the projects round-robin, each
// with a unique name. Files hold no clear-text secrets and no file://
// references, so a repository made of them is complete.
func Generate(n int, seed int64) []File {
	if n <= 0 {
		return nil
	}
	g := &gen{rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed5eed5eed5eed))}
	nProjects := min(n, 3+n/2500, len(projectNames))
	projects := projectNames[:nProjects]
	files := make([]File, 0, n)
	for _, p := range projects {
		files = append(files, File{Path: "projects/" + p + ".yaml", Data: g.project(p)})
	}
	for i := 0; len(files) < n; i++ {
		p := projects[i%len(projects)]
		kind := g.pickKind()
		name := fmt.Sprintf("%s-%s-%05d", kind.prefix, words[g.rng.IntN(len(words))], i)
		files = append(files, File{
			Path: "projects/" + p + "/" + kind.plural + "/" + name + ".yaml",
			Data: kind.write(g, p, name),
		})
	}
	return files
}

var projectNames = []string{"shared-infra-team", "payments", "search", "checkout", "data-eng", "ml-platform", "web-frontend", "naas"}

var words = []string{"alpha", "bravo", "delta", "echo", "falcon", "gamma", "harbor", "indigo", "juniper", "kilo", "lima", "mesa", "nova", "orion", "polaris", "quartz", "raven", "sierra", "tango", "umbra"}

var regions = []string{"us-west-2", "us-east-1", "eu-west-1", "eu-central-1", "ap-south-1"}

var azureLocations = []string{"centralindia", "eastus", "westeurope", "northeurope", "southeastasia"}

type genKind struct {
	prefix, plural string
	weight         int
	write          func(g *gen, project, name string) []byte
}

var genKinds = []genKind{
	{"eks", "clusters", 14, (*gen).eksCluster},
	{"aks", "clusters", 7, (*gen).aksCluster},
	{"ns", "namespaces", 18, (*gen).namespace},
	{"addon", "addons", 12, (*gen).addon},
	{"bp", "blueprints", 8, (*gen).blueprint},
	{"wl", "workloads", 14, (*gen).workload},
	{"repo", "repositories", 8, (*gen).repository},
	{"pl", "pipelines", 9, (*gen).pipeline},
	{"ovr", "overrides", 10, (*gen).override},
}

type gen struct {
	rng *rand.Rand
}

func (g *gen) pickKind() genKind {
	total := 0
	for _, k := range genKinds {
		total += k.weight
	}
	x := g.rng.IntN(total)
	for _, k := range genKinds {
		if x < k.weight {
			return k
		}
		x -= k.weight
	}
	return genKinds[0]
}

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *gen) chance(percent int) bool { return g.rng.IntN(100) < percent }

// yb builds YAML text line by line.
type yb struct{ b strings.Builder }

func (y *yb) l(indent int, format string, args ...any) {
	y.b.WriteString(strings.Repeat("  ", indent))
	fmt.Fprintf(&y.b, format, args...)
	y.b.WriteByte('\n')
}

func (y *yb) bytes() []byte { return []byte(y.b.String()) }

func header(y *yb, apiVersion, kind string) {
	y.l(0, "apiVersion: %s", apiVersion)
	y.l(0, "kind: %s", kind)
	y.l(0, "metadata:")
}

func (g *gen) project(p string) []byte {
	y := &yb{}
	header(y, "system.k8smgmt.io/v3", "Project")
	desc := fmt.Sprintf("Provides namespace as a service to the %s team.", p)
	y.l(1, "annotations:")
	y.l(2, "rafay.dev/description: %s", desc)
	y.l(1, "description: %s", desc)
	y.l(1, "labels:")
	y.l(2, "cost-center: cc-%04d", g.rng.IntN(10000))
	y.l(2, "team: %s", p)
	y.l(1, "name: %s", p)
	y.l(0, "spec:")
	y.l(1, "clusterResourceQuota:")
	cpu := 8000 * (1 + g.rng.IntN(8))
	y.l(2, "cpuLimits: %dm", cpu)
	y.l(2, "cpuRequests: %dm", cpu/2)
	y.l(2, "memoryLimits: %dMi", cpu*2)
	y.l(2, "memoryRequests: %dMi", cpu)
	y.l(2, `pods: "%d"`, 50*(1+g.rng.IntN(6)))
	y.l(1, "default: false")
	y.l(1, "defaultClusterNamespaceQuota:")
	y.l(2, "cpuLimits: 4000m")
	y.l(2, "memoryLimits: 8000Mi")
	y.l(2, `pods: "10"`)
	y.l(1, "driftWebhook:")
	y.l(2, "enabled: %t", g.chance(70))
	return y.bytes()
}

func (g *gen) eksCluster(project, name string) []byte {
	y := &yb{}
	header(y, "infra.k8smgmt.io/v3", "Cluster")
	fleet := g.pick([]string{"eks-presales", "eks-prod", "eks-dev"})
	y.l(1, "labels:")
	y.l(2, "k8smgmt.io/fleet: %s", fleet)
	y.l(2, "rafay.co/clusterGroup: %s", fleet)
	y.l(1, "name: %s", name)
	y.l(1, "project: %s", project)
	y.l(0, "spec:")
	y.l(1, "blueprintConfig:")
	y.l(2, "name: %s", fleet)
	y.l(2, "version: v%d", 1+g.rng.IntN(9))
	y.l(1, "cloudCredentials: aws-%s-credentials", project)
	y.l(1, "config:")
	y.l(2, "addons:")
	for _, a := range []string{"aws-ebs-csi-driver", "vpc-cni", "coredns", "kube-proxy"}[:1+g.rng.IntN(4)] {
		y.l(2, "- name: %s", a)
		y.l(3, "version: latest")
	}
	region := g.pick(regions)
	y.l(2, "availabilityZones:")
	y.l(2, "- %sa", region)
	y.l(2, "- %sb", region)
	y.l(2, "iam:")
	y.l(3, "withOIDC: true")
	y.l(2, "managedNodeGroups:")
	for i := range 1 + g.rng.IntN(3) {
		lo := g.rng.IntN(3)
		hi := lo + 1 + g.rng.IntN(8)
		y.l(2, "- amiFamily: %s", g.pick([]string{"AmazonLinux2", "AmazonLinux2023", "Bottlerocket"}))
		y.l(3, "availabilityZones:")
		y.l(3, "- %sa", region)
		y.l(3, "desiredCapacity: %d", lo+g.rng.IntN(hi-lo+1))
		y.l(3, "iam:")
		y.l(4, "withAddonPolicies:")
		y.l(5, "albIngress: %t", g.chance(50))
		y.l(5, "autoScaler: true")
		y.l(3, "instanceType: %s", g.pick([]string{"t3.large", "t3.xlarge", "m5.xlarge", "m6i.2xlarge", "c5.2xlarge"}))
		y.l(3, "labels:")
		y.l(4, "nodes: ng-%d", i)
		y.l(3, "maxSize: %d", hi)
		y.l(3, "minSize: %d", lo)
		y.l(3, "name: ng-%s-%d", name[len(name)-5:], i)
		if g.chance(30) {
			y.l(3, "spot: true # spot capacity keeps the bill down")
		}
		y.l(3, "volumeSize: %d", 50+10*g.rng.IntN(10))
		y.l(3, "volumeType: gp3")
	}
	y.l(2, "metadata:")
	y.l(3, "name: %s", name)
	y.l(3, "region: %s", region)
	y.l(3, "tags:")
	y.l(4, "email: %s-admins@example.com", project)
	y.l(4, "env: %s", g.pick([]string{"dev", "staging", "prod"}))
	y.l(3, `version: "1.%d"`, 25+g.rng.IntN(5))
	y.l(2, "network:")
	y.l(3, "cni:")
	y.l(4, "name: aws-cni")
	y.l(2, "vpc:")
	y.l(3, "cidr: 192.168.0.0/16")
	y.l(3, "clusterEndpoints:")
	y.l(4, "privateAccess: true")
	y.l(4, "publicAccess: %t", g.chance(30))
	y.l(3, "nat:")
	y.l(4, "gateway: Single")
	y.l(1, "type: aws-eks")
	return y.bytes()
}

func (g *gen) aksCluster(project, name string) []byte {
	y := &yb{}
	header(y, "infra.k8smgmt.io/v3", "Cluster")
	y.l(1, "# The name of the cluster")
	y.l(1, "name: %s", name)
	y.l(1, "project: %s", project)
	y.l(0, "spec:")
	y.l(1, "blueprintConfig:")
	y.l(2, "name: default-aks")
	y.l(1, "cloudCredentials: azure-%s", project)
	y.l(1, "config:")
	y.l(2, "kind: aksClusterConfig")
	y.l(2, "metadata:")
	y.l(3, "name: %s", name)
	y.l(2, "spec:")
	loc := g.pick(azureLocations)
	version := fmt.Sprintf("1.%d.%d", 27+g.rng.IntN(3), g.rng.IntN(8))
	y.l(3, "managedCluster:")
	y.l(4, `apiVersion: "2022-07-01"`)
	y.l(4, "identity:")
	y.l(5, "type: SystemAssigned")
	y.l(4, "location: %s", loc)
	y.l(4, "properties:")
	y.l(5, "apiServerAccessProfile:")
	y.l(6, "enablePrivateCluster: %t", g.chance(60))
	y.l(5, "dnsPrefix: %s-dns", name)
	y.l(5, "kubernetesVersion: %s", version)
	y.l(5, "networkProfile:")
	y.l(6, "loadBalancerSku: standard")
	y.l(6, "# Valid values are azure, kubenet, none")
	y.l(6, "networkPlugin: %s", g.pick([]string{"kubenet", "azure"}))
	y.l(4, "sku:")
	y.l(5, "name: Basic")
	y.l(5, "tier: %s", g.pick([]string{"Free", "Paid"}))
	y.l(4, "type: Microsoft.ContainerService/managedClusters")
	y.l(3, "nodePools:")
	for i := range 1 + g.rng.IntN(2) {
		y.l(3, `- apiVersion: "2022-07-01"`)
		y.l(4, "location: %s", loc)
		y.l(4, "name: pool%d", i)
		y.l(4, "properties:")
		c := 1 + g.rng.IntN(3)
		y.l(5, "count: %d", c)
		y.l(5, "enableAutoScaling: true")
		y.l(5, "maxCount: %d", c+g.rng.IntN(5))
		y.l(5, "maxPods: %d", 30+10*g.rng.IntN(9))
		y.l(5, "minCount: 1")
		y.l(5, "mode: %s", map[bool]string{true: "System", false: "User"}[i == 0])
		y.l(5, "orchestratorVersion: %s", version)
		y.l(5, "osType: Linux")
		y.l(5, "type: VirtualMachineScaleSets")
		y.l(5, "vmSize: %s", g.pick([]string{"Standard_DS2_v2", "Standard_D4s_v5", "Standard_NC4as_T4_v3"}))
		y.l(4, "type: Microsoft.ContainerService/managedClusters/agentPools")
	}
	y.l(3, "resourceGroupName: rg-%s", project)
	y.l(1, "proxyConfig: {}")
	y.l(1, "type: aks")
	return y.bytes()
}

func (g *gen) namespace(project, name string) []byte {
	y := &yb{}
	header(y, "infra.k8smgmt.io/v3", "Namespace")
	y.l(1, "annotations:")
	y.l(2, `rafay.dev/description: ""`)
	y.l(1, "labels:")
	y.l(2, `shared-gateway-access: "%t"`, g.chance(50))
	y.l(2, "team: %s", project)
	y.l(1, "name: %s", name)
	y.l(1, "project: %s", project)
	y.l(0, "spec:")
	y.l(1, "limitRange:")
	y.l(2, "container: {}")
	y.l(2, "pod:")
	y.l(3, "max:")
	y.l(4, "cpu: %du", 1+g.rng.IntN(4))
	y.l(4, "memory: %du", 1<<30+g.rng.IntN(1<<30))
	y.l(3, "min:")
	y.l(4, "cpu: 1u")
	y.l(4, "memory: %du", 1<<27+g.rng.IntN(1<<27))
	y.l(1, "namespaceMeshPolicyParams: {}")
	y.l(1, "placement:")
	y.l(2, "labels:")
	y.l(2, "- key: rafay.dev/clusterName")
	y.l(3, "value: eks-%s-%05d", g.pick(words), g.rng.IntN(10000))
	y.l(1, "resourceQuotas:")
	y.l(2, "cpuLimits: %dm", 1000*(1+g.rng.IntN(8)))
	y.l(2, "memoryLimits: %dMi", 1000*(1+g.rng.IntN(16)))
	y.l(2, `pods: "%d"`, 10*(1+g.rng.IntN(5)))
	y.l(2, `services: "%d"`, 5*(1+g.rng.IntN(4)))
	y.l(2, "storageRequests: %dGi", 50*(1+g.rng.IntN(4)))
	return y.bytes()
}

var charts = []struct{ repo, chart, version, ns string }{
	{"default-helm", "argo-cd", "5.38.1", "argocd"},
	{"autoscaler-helm", "cluster-autoscaler", "9.28.0", "autoscaler"},
	{"default-rafay", "karpenter", "0.35.4", "karpenter"},
	{"ingress-nginx", "ingress-nginx", "4.7.1", "ingress-nginx"},
	{"jetstack", "cert-manager", "v1.12.3", "cert-manager"},
	{"prometheus-community", "kube-prometheus-stack", "48.3.1", "monitoring"},
}

func (g *gen) addon(project, name string) []byte {
	y := &yb{}
	header(y, "infra.k8smgmt.io/v3", "Addon")
	c := charts[g.rng.IntN(len(charts))]
	y.l(1, "annotations:")
	y.l(2, "rafay.dev/description: %s add-on", c.chart)
	y.l(1, "name: %s", name)
	y.l(1, "project: %s", project)
	y.l(0, "spec:")
	y.l(1, "artifact:")
	y.l(2, "artifact:")
	y.l(3, "catalog: %s", c.repo)
	y.l(3, "chartName: %s", c.chart)
	y.l(3, "chartVersion: %s", c.version)
	y.l(3, "valuesRef:")
	y.l(4, "repository: demo-apps")
	y.l(4, "revision: main")
	y.l(4, "valuesPaths:")
	y.l(4, "- name: %s/values.yaml", c.chart)
	y.l(2, "options:")
	y.l(3, "maxHistory: %d", 1+g.rng.IntN(10))
	if g.chance(50) {
		y.l(3, "setString:")
		y.l(3, "- awsRegion=%s", g.pick(regions))
	}
	y.l(3, "timeout: %dm0s", 1+g.rng.IntN(9))
	y.l(3, "wait: %t", g.chance(50))
	y.l(2, "type: Helm")
	y.l(1, "namespace: %s", c.ns)
	y.l(1, "sharing:")
	y.l(2, "enabled: false")
	y.l(1, "version: v%d", 1+g.rng.IntN(5))
	return y.bytes()
}

func (g *gen) blueprint(project, name string) []byte {
	y := &yb{}
	header(y, "infra.k8smgmt.io/v3", "Blueprint")
	y.l(1, "description: %s blueprint", name)
	y.l(1, "name: %s", name)
	y.l(1, "project: %s", project)
	y.l(0, "spec:")
	y.l(1, "base:")
	y.l(2, "name: %s", g.pick([]string{"minimal", "default"}))
	y.l(2, "version: 1.%d.0", 26+g.rng.IntN(4))
	y.l(1, "costProfile:")
	y.l(2, "name: default-cost-profile-aws")
	y.l(2, "version: version-%d", 1670000000+g.rng.IntN(30000000))
	y.l(1, "customAddons:")
	for i := range 1 + g.rng.IntN(4) {
		c := charts[(i+g.rng.IntN(len(charts)))%len(charts)]
		if i > 0 {
			y.l(1, "- dependsOn:")
			y.l(2, "- addon-%d", i-1)
			y.l(2, "name: addon-%d", i)
		} else {
			y.l(1, "- name: addon-%d", i)
		}
		y.l(2, "version: %s", c.version)
	}
	y.l(1, "defaultAddons:")
	y.l(2, "csiSecretStoreConfig:")
	y.l(3, "providers:")
	y.l(4, "aws: true")
	y.l(2, "enableCsiSecretStore: %t", g.chance(50))
	y.l(2, "enableIngress: %t", g.chance(50))
	y.l(2, "enableLogging: %t", g.chance(50))
	y.l(2, "enableMonitoring: true")
	y.l(1, "drift:")
	y.l(2, "action: %s", g.pick([]string{"Deny", "Notify"}))
	y.l(2, "enabled: true")
	y.l(1, "driftWebhook:")
	y.l(2, "enabled: true")
	y.l(1, "placement:")
	y.l(2, "autoPublish: true")
	y.l(2, "fleetValues:")
	y.l(2, "- %s", name)
	y.l(1, "sharing:")
	y.l(2, "enabled: true")
	y.l(2, "projects:")
	y.l(2, "- name: caas")
	y.l(1, "type: custom")
	y.l(1, "version: v%d", 1+g.rng.IntN(9))
	return y.bytes()
}

func (g *gen) workload(project, name string) []byte {
	y := &yb{}
	header(y, "apps.k8smgmt.io/v3", "Workload")
	y.l(1, "description: %s workload", name)
	y.l(1, "labels:")
	y.l(2, "app: %s", name)
	y.l(1, "name: %s", name)
	y.l(1, "project: %s", project)
	y.l(0, "spec:")
	y.l(1, "artifact:")
	y.l(2, "artifact:")
	if g.chance(50) {
		y.l(3, "paths:")
		y.l(3, "- name: apps/%s/deploy.yaml", name)
		y.l(3, "repository: %s-apps", project)
		y.l(3, "revision: %s", g.pick([]string{"main", "dev", "release"}))
		y.l(2, "type: Yaml")
	} else {
		c := charts[g.rng.IntN(len(charts))]
		y.l(3, "catalog: %s", c.repo)
		y.l(3, "chartName: %s", c.chart)
		y.l(3, "chartVersion: %s", c.version)
		y.l(2, "options:")
		y.l(3, "maxHistory: 10")
		y.l(3, "timeout: 5m0s")
		y.l(2, "type: Helm")
	}
	y.l(1, "drift:")
	y.l(2, "action: Deny")
	y.l(2, "enabled: %t", g.chance(50))
	y.l(1, "namespace: %s-%s", project, g.pick([]string{"dev", "staging", "prod"}))
	y.l(1, "placement:")
	y.l(2, "labels:")
	y.l(2, "- key: rafay.dev/clusterName")
	y.l(3, "value: eks-%s-%05d", g.pick(words), g.rng.IntN(10000))
	y.l(1, "version: %s-v%d-2023%02d%02d1843530000", name, 1+g.rng.IntN(9), 1+g.rng.IntN(12), 1+g.rng.IntN(28))
	return y.bytes()
}

func (g *gen) repository(project, name string) []byte {
	y := &yb{}
	header(y, "integrations.k8smgmt.io/v3", "Repository")
	y.l(1, "annotations:")
	y.l(2, "rafay.dev/description: Repo for two-way system sync.")
	y.l(1, "description: Repo for two-way system sync.")
	y.l(1, "labels:")
	y.l(2, "team: %s", project)
	y.l(1, "name: %s", name)
	y.l(1, "project: %s", project)
	y.l(0, "spec:")
	if g.chance(70) {
		y.l(1, "agents:")
		y.l(1, "- name: %s-agent", project)
		y.l(1, "credentials:")
		y.l(2, "password: sealed://credentials.password")
		y.l(2, "username: %s-bot", project)
		y.l(1, "endpoint: https://github.com/acme-%s/%s.git", project, name)
		y.l(1, "sharing:")
		y.l(2, "enabled: %t", g.chance(30))
		y.l(1, "type: Git")
	} else {
		y.l(1, "agents:")
		y.l(1, "- name: %s-agent", project)
		y.l(1, "endpoint: https://charts.example.com/%s", name)
		y.l(1, "insecure: false")
		y.l(1, "sharing:")
		y.l(2, "enabled: true")
		y.l(2, "projects:")
		y.l(2, "- name: caas")
		y.l(1, "type: Helm")
	}
	return y.bytes()
}

var syncKinds = []string{"Cluster", "Blueprint", "Addon", "Repository", "Pipeline", "SecretSealer", "Namespace", "Agent", "Override", "Workload", "WorkloadTemplate", "OPAPolicy"}

func (g *gen) pipeline(project, name string) []byte {
	y := &yb{}
	header(y, "gitops.k8smgmt.io/v3", "Pipeline")
	y.l(1, "name: %s", name)
	y.l(1, "project: %s", project)
	y.l(0, "spec:")
	y.l(1, "active: true")
	repo := fmt.Sprintf("%s-sync", project)
	if g.chance(60) {
		y.l(1, "sharing:")
		y.l(2, "enabled: true")
		y.l(2, "projects:")
		y.l(2, "- name: caas")
		y.l(1, "stages:")
		y.l(1, "- config:")
		y.l(3, "destinationRepo: {}")
		y.l(3, "gitToSystemSync: true")
		y.l(3, "includedResources:")
		for _, k := range syncKinds[:4+g.rng.IntN(len(syncKinds)-3)] {
			y.l(3, "- name: %s", k)
		}
		y.l(3, "sourceAsDestination: true")
		y.l(3, "sourceRepo:")
		y.l(4, "path:")
		y.l(5, "name: %s", g.pick([]string{"/", "clusters", "platform"}))
		y.l(4, "repository: %s", repo)
		y.l(4, "revision: main")
		y.l(3, "systemToGitSync: %t", g.chance(80))
		y.l(2, "name: system-sync-stage")
		y.l(2, "type: SystemSync")
	} else {
		y.l(1, "stages:")
		y.l(1, "- config:")
		y.l(3, "approvers:")
		y.l(3, "- ssoUser: true")
		y.l(4, "userName: lead@%s.example.com", project)
		y.l(3, "timeout: 120s")
		y.l(3, "type: Email")
		y.l(2, "name: approval-stage")
		y.l(2, "next:")
		y.l(2, "- name: deploy-stage")
		y.l(3, "weight: 100")
		y.l(2, "type: Approval")
		y.l(1, "- config:")
		y.l(3, "useRevisionFromWebhookTriggerEvent: true")
		y.l(3, "workload: wl-%s", name)
		y.l(2, "name: deploy-stage")
		y.l(2, "type: DeployWorkload")
	}
	y.l(1, "triggers:")
	y.l(1, "- config:")
	y.l(3, "repo:")
	y.l(4, "provider: Github")
	y.l(4, "repository: %s", repo)
	y.l(4, "revision: main")
	y.l(2, "name: %s-webhook", name)
	y.l(2, "type: Webhook")
	if g.chance(30) {
		y.l(1, "- config:")
		y.l(3, "cron:")
		y.l(4, "cronExpression: '*/%d * * * *'", 5+g.rng.IntN(50))
		y.l(2, "name: %s-cron", name)
		y.l(2, "type: Cron")
	}
	return y.bytes()
}

func (g *gen) override(project, name string) []byte {
	y := &yb{}
	header(y, "apps.k8smgmt.io/v3", "Override")
	y.l(1, "labels:")
	y.l(2, "rafay.dev/overrideScope: clusterLabels")
	y.l(2, "rafay.dev/overrideType: valuesFile")
	y.l(1, "name: %s", name)
	y.l(1, "project: %s", project)
	y.l(0, "spec:")
	y.l(1, "overrideValues: |")
	y.l(2, "controller:")
	y.l(3, "replicaCount: %d", 1+g.rng.IntN(4))
	y.l(3, "service:")
	y.l(4, `loadBalancerIP: "10.%d.%d.%d"`, g.rng.IntN(256), g.rng.IntN(256), g.rng.IntN(256))
	y.l(1, "placement:")
	y.l(2, "labels:")
	y.l(2, "- key: rafay.dev/clusterName")
	y.l(3, "value: eks-%s-%05d", g.pick(words), g.rng.IntN(10000))
	y.l(1, "resource:")
	y.l(2, "selector:")
	y.l(3, "name: %s", charts[g.rng.IntN(len(charts))].chart)
	y.l(2, "type: Addon")
	y.l(1, "type: Helm")
	return y.bytes()
}
