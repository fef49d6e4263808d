// alertmanager.yml: every alert of the cluster goes to one receiver with the
// configured webhooks and e-mail, grouped per alert and cluster. The SMTP
// password stays out of this file (auth_password_file, 0640), so the file
// itself holds nothing secret and preview --diff shows it as it is.
// https://prometheus.io/docs/alerting/0.28/configuration/
import * as yaml from "js-yaml";
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { AlertmanagerSettings, LOCAL_RECEIVER_PORT } from "./slice";

export const ALERTMANAGER_CONFIG_PATH = "/etc/prometheus/alertmanager.yml";
export const ALERTMANAGER_SMTP_PASSWORD_PATH = "/etc/prometheus/alertmanager-smtp-password";
export const RECEIVER = "cluster";

export interface AlertmanagerConfigInput {
  readonly groupWait: string;
  readonly groupInterval: string;
  readonly repeatInterval: string;
  readonly webhooks: readonly { readonly url: string; readonly sendResolved: boolean }[];
  readonly email?: {
    readonly to: readonly string[];
    readonly from: string;
    readonly smarthost: string;
    readonly authUsername?: string;
    readonly requireTls: boolean;
    /** The password file, when a password is configured. */
    readonly passwordFile?: string;
  };
}

export function renderAlertmanagerConfig(ctx: ManagedFileContext, a: AlertmanagerConfigInput): string {
  const receiver: Record<string, unknown> = { name: RECEIVER };
  if (a.webhooks.length)
    receiver.webhook_configs = a.webhooks.map((w) => ({ url: w.url, send_resolved: w.sendResolved }));
  if (a.email) {
    const e = a.email;
    receiver.email_configs = [
      {
        to: e.to.join(", "),
        from: e.from,
        smarthost: e.smarthost,
        ...(e.authUsername ? { auth_username: e.authUsername } : {}),
        ...(e.passwordFile ? { auth_password_file: e.passwordFile } : {}),
        require_tls: e.requireTls,
        send_resolved: true,
      },
    ];
  }
  const document = {
    route: {
      receiver: RECEIVER,
      group_by: ["alertname", "cluster"],
      group_wait: a.groupWait,
      group_interval: a.groupInterval,
      repeat_interval: a.repeatInterval,
    },
    receivers: [receiver],
  };
  return managedHeader(ctx) + yaml.dump(document, { lineWidth: -1, noRefs: true });
}

/** The webhooks Alertmanager notifies: the configured ones, and the local receiver's. */
export function alertmanagerInput(m: AlertmanagerSettings, smtpPasswordConfigured: boolean): AlertmanagerConfigInput {
  return {
    groupWait: m.groupWait,
    groupInterval: m.groupInterval,
    repeatInterval: m.repeatInterval,
    webhooks: [
      ...m.webhooks,
      ...(m.localReceiver ? [{ url: `http://127.0.0.1:${LOCAL_RECEIVER_PORT}/alerts`, sendResolved: true }] : []),
    ],
    email: m.email && {
      ...m.email,
      passwordFile: smtpPasswordConfigured ? ALERTMANAGER_SMTP_PASSWORD_PATH : undefined,
    },
  };
}
