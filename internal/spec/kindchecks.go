package spec

import (
	"fmt"
	"strings"
)

// Per-kind checks. They are as lenient as Rafay: a field its exporter
// leaves out or empty (`agents: [{}]`, a Repository without an endpoint,
// an Addon without a version, `sharing: {}`, `artifact: {}`) is never a
// problem. What they report is a value of the wrong type (an error: the
// controller cannot hold it) and what is doubtful but applicable (a
// warning). Each gets spec, known to be a mapping.

// clusterGitSyncRule is why a cluster of another type is skipped by a
// sync from Git.
const clusterGitSyncRule = "only EKS (aws-eks) and AKS (aks) clusters sync from Git"

// GitSyncSkip returns why the resource obj is not synced from Git into the
// system, or "" when it is: a Cluster whose spec.type is not aws-eks or aks
// (Rafay's exports hold GKE and other clusters). Such a resource is valid:
// the system holds it, and System → Git writes it like any other; only a
// change to it in Git is skipped, which Validate warns about.
func GitSyncSkip(obj map[string]any) string {
	if stringAt(obj, "kind") != "Cluster" {
		return ""
	}
	typ, isString := mapAt(obj, "spec")["type"].(string)
	switch {
	case typ == "aws-eks" || typ == "aks":
		return ""
	case !isString || typ == "":
		return "no spec.type: " + clusterGitSyncRule
	}
	return fmt.Sprintf("cluster type %q: %s", typ, clusterGitSyncRule)
}

func checkProject(ch *checker, spec map[string]any) {
	ch.boolean(spec, "spec", "default")
}

func checkCluster(ch *checker, spec map[string]any) {
	// blueprintConfig in EKS and AKS exports, blueprint in GKE ones.
	for _, key := range []string{"blueprintConfig", "blueprint"} {
		if bp, ok := ch.mapping(spec, "spec", key); ok {
			ch.str(bp, "spec."+key, "name")
			ch.str(bp, "spec."+key, "version")
		}
	}
	ch.str(spec, "spec", "cloudCredentials")
	typ, _ := ch.str(spec, "spec", "type")
	switch typ {
	case "aws-eks":
		checkEKSConfig(ch, spec)
	case "aks":
		checkAKSConfig(ch, spec)
	default:
		// A type that is not a string is an error already.
		if v := spec["type"]; v == nil || v == "" || typ != "" {
			ch.warn("spec.type", "%s", GitSyncSkip(ch.r.Object))
		}
	}
}

// sameClusterName warns when the name a cluster's config gives differs
// from metadata.name.
func (ch *checker) sameClusterName(md map[string]any, parent string) {
	if n, ok := ch.str(md, parent, "name"); ok {
		if want := ch.r.Name(); want != "" && n != want {
			ch.warn(joinKey(parent, "name"), "is %q, while metadata.name is %q: the cluster is known by two names", n, want)
		}
	}
}

func checkEKSConfig(ch *checker, spec map[string]any) {
	cfg, ok := ch.mapping(spec, "spec", "config")
	if !ok {
		return
	}
	if md, ok := ch.mapping(cfg, "spec.config", "metadata"); ok {
		ch.sameClusterName(md, "spec.config.metadata")
		ch.str(md, "spec.config.metadata", "region")
		ch.str(md, "spec.config.metadata", "version")
		ch.stringMap(md, "spec.config.metadata", "tags")
	}
	seen := map[string]string{}
	for _, key := range []string{"managedNodeGroups", "nodeGroups"} {
		ch.items(cfg, "spec.config", key, func(ng map[string]any, p string) {
			if n, ok := ch.str(ng, p, "name"); ok {
				if prev, dup := seen[n]; dup {
					ch.warn(joinKey(p, "name"), "duplicate node group name %q (also %s)", n, prev)
				}
				seen[n] = p
			}
			ch.str(ng, p, "instanceType")
			ch.str(ng, p, "amiFamily")
			ch.strings(ng, p, "instanceTypes")
			desired, hasDesired := ch.integer(ng, p, "desiredCapacity")
			lo, hasMin := ch.integer(ng, p, "minSize")
			hi, hasMax := ch.integer(ng, p, "maxSize")
			if hasMin && hasMax && lo > hi {
				ch.warn(joinKey(p, "minSize"), "minSize %d is above maxSize %d", lo, hi)
			}
			if hasDesired && hasMin && desired < lo {
				ch.warn(joinKey(p, "desiredCapacity"), "desiredCapacity %d is below minSize %d", desired, lo)
			}
			if hasDesired && hasMax && desired > hi {
				ch.warn(joinKey(p, "desiredCapacity"), "desiredCapacity %d is above maxSize %d", desired, hi)
			}
		})
	}
}

func checkAKSConfig(ch *checker, spec map[string]any) {
	cfg, ok := ch.mapping(spec, "spec", "config")
	if !ok {
		return
	}
	if k, ok := ch.str(cfg, "spec.config", "kind"); ok && k != "aksClusterConfig" {
		ch.warn("spec.config.kind", "is %q, while an aks cluster's config is an aksClusterConfig", k)
	}
	if md, ok := ch.mapping(cfg, "spec.config", "metadata"); ok {
		ch.sameClusterName(md, "spec.config.metadata")
	}
	inner, ok := ch.mapping(cfg, "spec.config", "spec")
	if !ok {
		return
	}
	ch.mapping(inner, "spec.config.spec", "managedCluster")
	ch.str(inner, "spec.config.spec", "resourceGroupName")
	ch.named(inner, "spec.config.spec", "nodePools", func(np map[string]any, p string) {
		ch.mapping(np, p, "properties")
	})
}

func checkBlueprint(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "version")
	if base, ok := ch.mapping(spec, "spec", "base"); ok {
		ch.str(base, "spec.base", "name")
		ch.str(base, "spec.base", "version")
	}
	ch.named(spec, "spec", "customAddons", func(a map[string]any, p string) {
		ch.str(a, p, "version")
	})
	if da, ok := ch.mapping(spec, "spec", "defaultAddons"); ok {
		for _, k := range sortedKeys(da) {
			if len(k) > 6 && k[:6] == "enable" {
				ch.boolean(da, "spec.defaultAddons", k)
			}
		}
	}
	if d, ok := ch.mapping(spec, "spec", "drift"); ok {
		ch.boolean(d, "spec.drift", "enabled")
	}
}

func checkAddon(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "namespace")
	ch.str(spec, "spec", "version")
	checkArtifact(ch, spec)
}

// checkArtifact checks spec.artifact, which says where a workload's,
// add-on's or policy's manifests come from.
func checkArtifact(ch *checker, spec map[string]any) {
	if a, ok := ch.mapping(spec, "spec", "artifact"); ok {
		ch.str(a, "spec.artifact", "type")
		ch.mapping(a, "spec.artifact", "artifact")
		ch.mapping(a, "spec.artifact", "options")
	}
}

func checkNamespace(ch *checker, spec map[string]any) {
	checkPlacement(ch, spec)
	ch.mapping(spec, "spec", "resourceQuotas")
	ch.mapping(spec, "spec", "limitRange")
}

// checkPlacement checks spec.placement.labels entries.
func checkPlacement(ch *checker, spec map[string]any) {
	pl, ok := ch.mapping(spec, "spec", "placement")
	if !ok {
		return
	}
	ch.items(pl, "spec.placement", "labels", func(l map[string]any, p string) {
		ch.str(l, p, "key")
		ch.str(l, p, "value")
	})
}

func checkWorkload(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "namespace")
	checkArtifact(ch, spec)
	checkPlacement(ch, spec)
}

func checkWorkloadTemplate(ch *checker, spec map[string]any) {
	checkArtifact(ch, spec)
}

func checkOverride(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "type")
	if res, ok := ch.mapping(spec, "spec", "resource"); ok {
		ch.str(res, "spec.resource", "type")
	}
	if vp, ok := ch.mapping(spec, "spec", "valuesPath"); ok {
		ch.str(vp, "spec.valuesPath", "name")
	}
}

func checkAgent(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "type")
	if cl, ok := ch.mapping(spec, "spec", "cluster"); ok {
		ch.str(cl, "spec.cluster", "name")
	}
	ch.boolean(spec, "spec", "active")
}

func checkPipeline(ch *checker, spec map[string]any) {
	ch.boolean(spec, "spec", "active")
	checkVariables(ch, spec, "spec")
	stages := map[string]bool{}
	ch.items(spec, "spec", "stages", func(st map[string]any, p string) {
		if n, ok := ch.str(st, p, "name"); ok {
			if stages[n] {
				ch.warn(joinKey(p, "name"), "duplicate stage name %q", n)
			}
			stages[n] = true
		}
		typ, _ := ch.str(st, p, "type")
		ch.named(st, p, "next", nil)
		checkVariables(ch, st, p)
		checkPreConditions(ch, st, p)
		if typ == "SystemSync" {
			checkSystemSyncStage(ch, st, p)
		}
	})
	ch.named(spec, "spec", "triggers", func(tr map[string]any, p string) { checkTrigger(ch, tr, p) })
}

// TriggerConfig finds a trigger's settings in its config, in either of
// the shapes pipelines hold them: config.cronExpression and config.repo
// (repository, revision, paths), or Rafay's API's config.cron.cronExpression
// and config.cron.repo.git. Either is nil when the trigger has none.
func TriggerConfig(cfg map[string]any) (cronExpression any, repo map[string]any) {
	if c := mapAt(cfg, "cron"); c != nil {
		return c["cronExpression"], mapAt(mapAt(c, "repo"), "git")
	}
	return cfg["cronExpression"], mapAt(cfg, "repo")
}

// checkTrigger checks one of spec.triggers, in the shapes TriggerConfig
// reads: its repository (Webhook and Cron triggers alike) and, for a Cron
// trigger, its cron expression, which must parse (ParseCron); one left out
// is a warning.
func checkTrigger(ch *checker, tr map[string]any, p string) {
	typ, _ := ch.str(tr, p, "type")
	checkVariables(ch, tr, p)
	cfg, _ := ch.mapping(tr, p, "config")
	exprIn, exprAt := cfg, joinKey(p, "config")
	repoIn, repoAt, repoKey := cfg, exprAt, "repo"
	if c, ok := ch.mapping(cfg, exprAt, "cron"); ok {
		exprIn, exprAt = c, joinKey(exprAt, "cron")
		repoIn, _ = ch.mapping(c, exprAt, "repo")
		repoAt, repoKey = joinKey(exprAt, "repo"), "git"
	}
	if repo, ok := ch.mapping(repoIn, repoAt, repoKey); ok {
		rp := joinKey(repoAt, repoKey)
		ch.str(repo, rp, "repository")
		ch.str(repo, rp, "revision")
		ch.named(repo, rp, "paths", nil)
	}
	if typ != "Cron" {
		return
	}
	field := joinKey(exprAt, "cronExpression")
	switch e := exprIn["cronExpression"].(type) {
	case nil:
		// Left out, as Rafay's exporter leaves out what it has no value for.
		ch.warn(field, "no schedule: this Cron trigger never fires (five fields such as \"*/5 * * * *\")")
	case string:
		if strings.TrimSpace(e) == "" {
			ch.warn(field, "no schedule: this Cron trigger never fires (five fields such as \"*/5 * * * *\")")
			return
		}
		if _, err := ParseCron(e); err != nil {
			ch.add(field, "%q: %v", e, err)
		}
	default:
		ch.add(field, "must be a string, got %s (quote it)", describeValue(e))
	}
}

func checkSystemSyncStage(ch *checker, st map[string]any, p string) {
	cfg, ok := ch.mapping(st, p, "config")
	if !ok {
		return
	}
	cp := joinKey(p, "config")
	ch.boolean(cfg, cp, "gitToSystemSync")
	ch.boolean(cfg, cp, "systemToGitSync")
	ch.boolean(cfg, cp, "sourceAsDestination")
	for _, key := range []string{"sourceRepo", "destinationRepo"} {
		if repo, ok := ch.mapping(cfg, cp, key); ok {
			rp := joinKey(cp, key)
			ch.str(repo, rp, "repository")
			ch.str(repo, rp, "revision")
			if path, ok := ch.mapping(repo, rp, "path"); ok {
				ch.str(path, joinKey(rp, "path"), "name")
			}
		}
	}
	ch.named(cfg, cp, "includedResources", nil)
	ch.named(cfg, cp, "excludedResources", nil)
	checkTemplates(ch, cfg, cp)
}

func checkInfraProvisioner(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "type")
	ch.str(spec, "spec", "repository")
	ch.str(spec, "spec", "revision")
}

func checkRepository(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "endpoint")
	ch.str(spec, "spec", "type")
	if cred, ok := ch.mapping(spec, "spec", "credentials"); ok {
		ch.str(cred, "spec.credentials", "username")
	}
	ch.named(spec, "spec", "agents", nil)
}

func checkSecretSealer(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "type")
}

func checkSecretStore(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "provider")
	ch.mapping(spec, "spec", "config")
}

func checkOPAConstraint(ch *checker, spec map[string]any) {
	checkArtifact(ch, spec)
	ch.str(spec, "spec", "templateName")
}

func checkOPAConstraintTemplate(ch *checker, spec map[string]any) {
	checkArtifact(ch, spec)
}

func checkOPAPolicy(ch *checker, spec map[string]any) {
	ch.named(spec, "spec", "constraintList", nil)
	ch.str(spec, "spec", "version")
}

func checkNetworkPolicy(ch *checker, spec map[string]any) {
	ch.named(spec, "spec", "rules", nil)
}

func checkNetworkPolicyRule(ch *checker, spec map[string]any) {
	checkArtifact(ch, spec)
}
