// What every role component is given: the validated config and the facts
// derived from it, its host (and how to reach it), the cluster's passwords
// and the host's platform, resolved once, and what it waits for.
import * as pulumi from "@pulumi/pulumi";
import { ClusterPasswords } from "../cluster/passwords";
import { HostConfig, StackConfig } from "../config/schema";
import { Topology } from "../config/topology";
import { HostPlatform } from "../platform/platform";
import { ManagedFileContext } from "../render/managedHeader";
import { StepHost } from "../steps/hostSteps";

export interface RoleArgs {
  readonly config: StackConfig;
  readonly topology: Topology;
  readonly host: HostConfig & StepHost;
  readonly managed: ManagedFileContext;
  /** Every password of the cluster (secret). */
  readonly passwords: pulumi.Output<ClusterPasswords>;
  /** The versions this host runs. */
  readonly platform: pulumi.Output<HostPlatform>;
  /** The host's packages step, and the stages this role waits for. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}
