// Minimal pulumi-language-nodejs language host.
//
// Why this exists: the official host (module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) has no
// tags and the restricted Go proxy here refuses its pseudo-versions, so it
// cannot be built offline. The CLI only needs a gRPC LanguageRuntime server
// that launches `@pulumi/pulumi/cmd/run` with the arguments and environment
// the 3.248 Node SDK reads; everything else (npm installs, codegen, plugin
// discovery) is deliberately left out: dependencies come from `npm ci` and
// provider plugins are installed explicitly.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Reported to the CLI; keep equal to the CLI and npm @pulumi/pulumi version
// (toolchain.sh stamps it with -ldflags "-X main.version=...").
var version = "3.248.0"

// The SDK's run.js exits with 32 after it already printed an actionable
// error; the CLI must then bail without adding its own message.
const exitAfterUserMessage = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engine string             // engine address: argv[0], or later via Handshake
	cancel context.CancelFunc // fired by the Cancel RPC to interrupt a running program
	ctx    context.Context
}

func main() {
	// The CLI may pass -v=N, --logtostderr and --tracing before the engine
	// address; accept them so flag parsing does not fail. We only import the
	// sdk's generated proto package (not its rpcutil/logging helpers), which
	// keeps this module's build small.
	verbose := flag.Int("v", 0, "log level (>=5 logs the node command line to stderr)")
	flag.Bool("logtostderr", false, "accepted for CLI compatibility")
	flag.String("tracing", "", "accepted for CLI compatibility; tracing is not supported")
	showVersion := flag.Bool("version", false, "print the plugin version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	debug = *verbose >= 5

	ctx, cancel := context.WithCancel(context.Background())
	h := &host{engine: flag.Arg(0), ctx: ctx, cancel: cancel}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("pulumi-language-nodejs: %v", err)
	}
	// Same 400 MiB limit as the CLI's own plugin servers (big stack exports).
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(400 << 20))
	pulumirpc.RegisterLanguageRuntimeServer(srv, h)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	if h.engine != "" {
		go watchEngine(h.engine, srv)
	}
	// Plugin protocol: the first stdout line is the port the CLI dials.
	fmt.Printf("%d\n", lis.Addr().(*net.TCPAddr).Port)
	if err := srv.Serve(lis); err != nil {
		log.Fatalf("pulumi-language-nodejs: %v", err)
	}
}

var debug bool

// watchEngine stops the server once the engine no longer answers, so a
// killed `pulumi` process does not leave this host running forever.
func watchEngine(addr string, srv *grpc.Server) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return
	}
	client := healthpb.NewHealthClient(conn)
	for range time.Tick(time.Minute) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err != nil && status.Code(err) != codes.Unimplemented {
			srv.Stop()
			return
		}
	}
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engine = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// Empty on purpose: reporting @pulumi/command etc. would make the CLI try to
// acquire those plugins; ours are installed explicitly before use.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// No-op: `npm ci` is the project's job, and there is no network to install from.
func (h *host) InstallDependencies(*pulumirpc.InstallDependenciesRequest,
	grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return nil
}

func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *host) About(ctx context.Context, _ *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, err
	}
	out, _ := exec.CommandContext(ctx, node, "--version").Output()
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimSpace(string(out)),
		Metadata:   map[string]string{"packagemanager": "npm"},
	}, nil
}

// Direct dependencies from package.json with the versions actually installed
// in node_modules (enough for `pulumi about`; transitive ones are skipped).
func (h *host) GetProgramDependencies(_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	var pkg struct{ Dependencies, DevDependencies map[string]string }
	if b, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil {
		if err := json.Unmarshal(b, &pkg); err != nil {
			return nil, fmt.Errorf("package.json: %w", err)
		}
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, deps := range []map[string]string{pkg.Dependencies, pkg.DevDependencies} {
		for name, want := range deps {
			v := want // fall back to the requested range if not installed
			var inst struct{ Version string }
			if b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json")); err == nil &&
				json.Unmarshal(b, &inst) == nil && inst.Version != "" {
				v = inst.Version
			}
			resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: name, Version: v})
		}
	}
	return resp, nil
}

// Cancel is the CLI's graceful shutdown (e.g. Ctrl-C); nothing runs after it,
// so cancelling the host-wide context for good is fine.
func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancel()
	return &emptypb.Empty{}, nil
}

// Run launches `node [nodeargs] <@pulumi/pulumi/cmd/run> <flags> <entrypoint>`.
// The flags and env vars are the ones cmd/run/index.js and runtime/config.js
// of @pulumi/pulumi 3.248 read. Unlike the official host we pass the engine's
// monitor address straight through (no proxy) and offer no --sync pipes:
// those only serve the deprecated synchronous invokes.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	dir := info.GetProgramDirectory()
	opts := info.GetOptions().AsMap()

	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on $PATH: " + err.Error()}, nil
	}
	runPath, err := resolveRunScript(node, dir)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	// Pulumi.yaml runtime.options: typescript defaults to true as upstream.
	typescript := true
	if v, ok := opts["typescript"].(bool); ok {
		typescript = v
	}
	// nodeargs split on blanks only (no shell quoting): avoids a dependency
	// beyond the sdk for a feature this project does not use.
	nodeargs, _ := opts["nodeargs"].(string)
	args := append(strings.Fields(nodeargs), runPath)
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", info.GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", dir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "." // run.js then uses package.json "main"
	}
	args = append(append(args, entry), req.GetArgs()...)

	// Keys stay in "project:key" form; runtime/config.js accepts it. A stack
	// without config must still send "{}": the SDK's parser fails on "null".
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	sk, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+string(cfg), "PULUMI_CONFIG_SECRET_KEYS="+string(sk))
	if typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if ts, _ := opts["tsconfig"].(string); ts != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+ts)
	}

	// Interrupt (not kill) on Cancel or when the CLI drops the request, so
	// the SDK can flush; kill after a grace period.
	runCtx, stop := context.WithCancel(h.ctx)
	defer stop()
	context.AfterFunc(ctx, stop)
	cmd := exec.CommandContext(runCtx, node, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = env
	// Wrapped writers make exec copy through pipes instead of handing node
	// our own fds: node flips them to non-blocking, which breaks the CLI's
	// reading of this plugin's output.
	cmd.Stdout = struct{ *os.File }{os.Stdout}
	cmd.Stderr = struct{ *os.File }{os.Stderr}
	if debug {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: running %s %s\n", node, strings.Join(args, " "))
	}

	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == exitAfterUserMessage:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &pulumirpc.RunResponse{Error: "Program was terminated by signal " + ws.Signal().String()}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d",
			exitErr.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: "could not run node: " + err.Error()}, nil
	}
}

// resolveRunScript finds @pulumi/pulumi/cmd/run with node's own resolution
// from the program directory (handles hoisted and workspace layouts).
// PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides it, as with the official host.
func resolveRunScript(node, dir string) (string, error) {
	mod := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if mod == "" {
		mod = "@pulumi/pulumi/cmd/run"
	}
	cmd := exec.Command(node, "-p", "require.resolve("+strconv.Quote(mod)+")")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot find %s from %s: the Pulumi SDK is not installed; run `npm ci` first", mod, dir)
	}
	return strings.TrimSpace(string(out)), nil
}
