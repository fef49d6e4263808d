# etcdctl speaks the v3 API and, when etcd uses TLS, shows this host's
# certificate: it reads $ETCDCTL_CACERT, $ETCDCTL_CERT and $ETCDCTL_KEY from
# its environment, which renderHostScript exports from the host facts to
# every script that runs etcdctl (this file is put in front of it).
export ETCDCTL_API=3
