package spec

// Per-kind checks. They are modest on purpose: what every real spec has
// (and the controller needs), not the whole Rafay schema. Each gets spec,
// known to be a mapping.

func checkProject(ch *checker, spec map[string]any) {
	ch.boolean(spec, "spec", "default", false)
}

func checkCluster(ch *checker, spec map[string]any) {
	if bp, ok := ch.mapping(spec, "spec", "blueprintConfig", false, ""); ok {
		ch.str(bp, "spec.blueprintConfig", "name", true, "the blueprint the cluster uses")
		ch.str(bp, "spec.blueprintConfig", "version", false, "")
	}
	ch.str(spec, "spec", "cloudCredentials", false, "")
	typ, ok := ch.str(spec, "spec", "type", true, "aws-eks or aks (only EKS and AKS clusters sync)")
	if !ok {
		return
	}
	switch typ {
	case "aws-eks":
		checkEKSConfig(ch, spec)
	case "aks":
		checkAKSConfig(ch, spec)
	default:
		ch.add("spec.type", "cluster type %q is not synced: only EKS (aws-eks) and AKS (aks) clusters sync", typ)
	}
}

// clusterName is metadata.name of the resource being checked.
func (ch *checker) clusterName() string { return ch.r.Name() }

func checkEKSConfig(ch *checker, spec map[string]any) {
	cfg, ok := ch.mapping(spec, "spec", "config", true, "the eksctl ClusterConfig of an aws-eks cluster")
	if !ok {
		return
	}
	if md, ok := ch.mapping(cfg, "spec.config", "metadata", true, "name, region and version of the EKS cluster"); ok {
		if n, ok := ch.str(md, "spec.config.metadata", "name", true, "the EKS cluster name, equal to metadata.name"); ok {
			if want := ch.clusterName(); want != "" && n != want {
				ch.add("spec.config.metadata.name", "is %q, must equal metadata.name %q", n, want)
			}
		}
		ch.str(md, "spec.config.metadata", "region", true, "the AWS region, such as us-west-2")
		ch.str(md, "spec.config.metadata", "version", false, "")
		if tags, ok := ch.mapping(md, "spec.config.metadata", "tags", false, ""); ok {
			for _, k := range sortedKeys(tags) {
				if _, isString := tags[k].(string); !isString {
					ch.add(joinKey("spec.config.metadata.tags", k), "must be a string, got %s (quote it)", describeValue(tags[k]))
				}
			}
		}
	}
	seen := map[string]string{}
	for _, key := range []string{"managedNodeGroups", "nodeGroups"} {
		ch.items(cfg, "spec.config", key, false, false, "", func(ng map[string]any, p string) {
			if n, ok := ch.str(ng, p, "name", true, "the node group name"); ok {
				if prev, dup := seen[n]; dup {
					ch.add(joinKey(p, "name"), "duplicate node group name %q (also %s)", n, prev)
				}
				seen[n] = p
			}
			ch.str(ng, p, "instanceType", false, "")
			ch.str(ng, p, "amiFamily", false, "")
			if its, ok := ch.list(ng, p, "instanceTypes", false, false, ""); ok {
				for i, it := range its {
					if _, isString := it.(string); !isString {
						ch.add(joinIndex(joinKey(p, "instanceTypes"), i), "must be a string, got %s", describeValue(it))
					}
				}
			}
			desired, hasDesired := ch.integer(ng, p, "desiredCapacity")
			lo, hasMin := ch.integer(ng, p, "minSize")
			hi, hasMax := ch.integer(ng, p, "maxSize")
			if hasMin && hasMax && lo > hi {
				ch.add(joinKey(p, "minSize"), "minSize %d is above maxSize %d", lo, hi)
			}
			if hasDesired && hasMin && desired < lo {
				ch.add(joinKey(p, "desiredCapacity"), "desiredCapacity %d is below minSize %d", desired, lo)
			}
			if hasDesired && hasMax && desired > hi {
				ch.add(joinKey(p, "desiredCapacity"), "desiredCapacity %d is above maxSize %d", desired, hi)
			}
		})
	}
}

func checkAKSConfig(ch *checker, spec map[string]any) {
	cfg, ok := ch.mapping(spec, "spec", "config", true, "the aksClusterConfig of an aks cluster")
	if !ok {
		return
	}
	if k, ok := ch.str(cfg, "spec.config", "kind", true, "aksClusterConfig"); ok && k != "aksClusterConfig" {
		ch.add("spec.config.kind", "is %q, must be aksClusterConfig for an aks cluster", k)
	}
	if md, ok := ch.mapping(cfg, "spec.config", "metadata", true, "the AKS cluster name"); ok {
		if n, ok := ch.str(md, "spec.config.metadata", "name", true, "the AKS cluster name, equal to metadata.name"); ok {
			if want := ch.clusterName(); want != "" && n != want {
				ch.add("spec.config.metadata.name", "is %q, must equal metadata.name %q", n, want)
			}
		}
	}
	inner, ok := ch.mapping(cfg, "spec.config", "spec", true, "managedCluster, nodePools and resourceGroupName")
	if !ok {
		return
	}
	ch.mapping(inner, "spec.config.spec", "managedCluster", true, "the Azure managedCluster resource")
	ch.str(inner, "spec.config.spec", "resourceGroupName", true, "the Azure resource group")
	ch.named(inner, "spec.config.spec", "nodePools", true, func(np map[string]any, p string) {
		ch.mapping(np, p, "properties", false, "")
	})
	if l, ok := inner["nodePools"].([]any); ok && len(l) == 0 {
		ch.add("spec.config.spec.nodePools", "must not be empty: an AKS cluster needs a node pool")
	}
}

func checkBlueprint(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "version", true, "the blueprint version, such as v1")
	if base, ok := ch.mapping(spec, "spec", "base", false, ""); ok {
		ch.str(base, "spec.base", "name", true, "the base blueprint, such as minimal or default")
		ch.str(base, "spec.base", "version", false, "")
	}
	ch.named(spec, "spec", "customAddons", false, func(a map[string]any, p string) {
		ch.str(a, p, "version", false, "")
	})
	if da, ok := ch.mapping(spec, "spec", "defaultAddons", false, ""); ok {
		for _, k := range sortedKeys(da) {
			if len(k) > 6 && k[:6] == "enable" {
				ch.boolean(da, "spec.defaultAddons", k, false)
			}
		}
	}
	if d, ok := ch.mapping(spec, "spec", "drift", false, ""); ok {
		ch.boolean(d, "spec.drift", "enabled", false)
	}
}

func checkAddon(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "namespace", true, "the namespace the add-on is installed in")
	ch.str(spec, "spec", "version", true, "the add-on version, such as v1")
	checkArtifact(ch, spec, true)
}

// checkArtifact checks spec.artifact, which says where a workload's,
// add-on's or policy's manifests come from.
func checkArtifact(ch *checker, spec map[string]any, needType bool) {
	a, ok := ch.mapping(spec, "spec", "artifact", true, "where the manifests or chart come from")
	if !ok {
		return
	}
	if needType {
		ch.str(a, "spec.artifact", "type", true, "Helm or Yaml")
	}
}

func checkNamespace(ch *checker, spec map[string]any) {
	checkPlacement(ch, spec)
	ch.mapping(spec, "spec", "resourceQuotas", false, "")
	ch.mapping(spec, "spec", "limitRange", false, "")
}

// checkPlacement checks spec.placement.labels entries, which need a key.
func checkPlacement(ch *checker, spec map[string]any) {
	pl, ok := ch.mapping(spec, "spec", "placement", false, "")
	if !ok {
		return
	}
	ch.items(pl, "spec.placement", "labels", false, false, "", func(l map[string]any, p string) {
		ch.str(l, p, "key", true, "the cluster label to match")
		ch.str(l, p, "value", false, "")
	})
}

func checkWorkload(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "namespace", true, "the namespace the workload is deployed to")
	checkArtifact(ch, spec, false)
	checkPlacement(ch, spec)
}

func checkWorkloadTemplate(ch *checker, spec map[string]any) {
	checkArtifact(ch, spec, false)
}

func checkOverride(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "type", true, "the override type, such as Helm")
	if res, ok := ch.mapping(spec, "spec", "resource", true, "the Addon or Workload the override applies to"); ok {
		ch.str(res, "spec.resource", "type", true, "Addon or Workload")
	}
	if vp, ok := ch.mapping(spec, "spec", "valuesPath", false, ""); ok {
		ch.str(vp, "spec.valuesPath", "name", true, "the values file")
	}
}

func checkAgent(ch *checker, spec map[string]any) {
	typ, _ := ch.str(spec, "spec", "type", true, "Cluster or Docker")
	if typ == "Cluster" {
		if cl, ok := ch.mapping(spec, "spec", "cluster", true, "the cluster the agent runs on"); ok {
			ch.str(cl, "spec.cluster", "name", true, "the cluster the agent runs on")
		}
	}
	ch.boolean(spec, "spec", "active", false)
}

func checkPipeline(ch *checker, spec map[string]any) {
	ch.boolean(spec, "spec", "active", false)
	ch.named(spec, "spec", "variables", false, nil)
	stages := map[string]bool{}
	ch.items(spec, "spec", "stages", true, true, "a pipeline needs at least one stage", func(st map[string]any, p string) {
		if n, ok := ch.str(st, p, "name", true, "the stage name"); ok {
			if stages[n] {
				ch.add(joinKey(p, "name"), "duplicate stage name %q", n)
			}
			stages[n] = true
		}
		typ, _ := ch.str(st, p, "type", true, "the stage type, such as SystemSync or DeployWorkload")
		ch.named(st, p, "next", false, nil)
		ch.named(st, p, "variables", false, nil)
		if typ == "SystemSync" {
			checkSystemSyncStage(ch, st, p)
		}
	})
	ch.named(spec, "spec", "triggers", false, func(tr map[string]any, p string) {
		ch.str(tr, p, "type", true, "Webhook, Cron, ...")
	})
}

func checkSystemSyncStage(ch *checker, st map[string]any, p string) {
	cfg, ok := ch.mapping(st, p, "config", true, "gitToSystemSync, systemToGitSync and sourceRepo")
	if !ok {
		return
	}
	cp := joinKey(p, "config")
	ch.boolean(cfg, cp, "gitToSystemSync", true)
	ch.boolean(cfg, cp, "systemToGitSync", true)
	ch.boolean(cfg, cp, "sourceAsDestination", false)
	if src, ok := ch.mapping(cfg, cp, "sourceRepo", true, "the repository and revision to sync"); ok {
		sp := joinKey(cp, "sourceRepo")
		ch.str(src, sp, "repository", true, "the name of a Repository resource")
		ch.str(src, sp, "revision", false, "")
		if path, ok := ch.mapping(src, sp, "path", false, ""); ok {
			ch.str(path, joinKey(sp, "path"), "name", false, "")
		}
	}
	if dst, ok := ch.mapping(cfg, cp, "destinationRepo", false, ""); ok {
		ch.str(dst, joinKey(cp, "destinationRepo"), "repository", false, "")
	}
	ch.named(cfg, cp, "includedResources", false, nil)
	ch.named(cfg, cp, "excludedResources", false, nil)
}

func checkInfraProvisioner(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "type", true, "the provisioner type, such as Terraform")
	ch.str(spec, "spec", "repository", false, "")
	ch.str(spec, "spec", "revision", false, "")
}

func checkRepository(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "endpoint", true, "the Git or Helm repository URL")
	ch.str(spec, "spec", "type", true, "Git or Helm")
	if cred, ok := ch.mapping(spec, "spec", "credentials", false, ""); ok {
		ch.str(cred, "spec.credentials", "username", false, "")
	}
	ch.named(spec, "spec", "agents", false, nil)
}

func checkSecretSealer(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "type", true, "the sealer type, such as KubeSeal")
}

func checkSecretStore(ch *checker, spec map[string]any) {
	ch.str(spec, "spec", "provider", true, "the secret store provider, such as Vault")
	ch.mapping(spec, "spec", "config", false, "")
}

func checkOPAConstraint(ch *checker, spec map[string]any) {
	checkArtifact(ch, spec, false)
	ch.str(spec, "spec", "templateName", true, "the OPAConstraintTemplate the constraint instantiates")
}

func checkOPAConstraintTemplate(ch *checker, spec map[string]any) {
	checkArtifact(ch, spec, false)
}

func checkOPAPolicy(ch *checker, spec map[string]any) {
	ch.named(spec, "spec", "constraintList", true, nil)
	ch.str(spec, "spec", "version", false, "")
}

func checkNetworkPolicy(ch *checker, spec map[string]any) {
	ch.named(spec, "spec", "rules", false, nil)
}

func checkNetworkPolicyRule(ch *checker, spec map[string]any) {
	checkArtifact(ch, spec, false)
}
