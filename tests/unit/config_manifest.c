/*
 * Unit tests: admission of manifests (config/manifest.c and the validators
 * and defaults behind it), quantities' canonical form, label selectors.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "defaults.h"
#include "manifest.h"
#include "quantity.h"
#include "validate.h"

static const char *vmirs_yaml =
    "apiVersion: kubevirt.io/v1\n"
    "kind: VirtualMachineInstanceReplicaSet\n"
    "metadata: {name: rs}\n"
    "spec:\n"
    "  selector: {matchLabels: {app: a}}\n"
    "  template:\n"
    "    metadata: {labels: {app: a}}\n"
    "    spec:\n"
    "      domain:\n"
    "        resources: {requests: {memory: 64Mi}}\n"
    "        devices: {}\n"
    "      volumes:\n"
    "      - {name: root, containerDisk: {image: 'x/y:1'}}\n";

static json_t *
one(const char *yaml)
{
	json_t *st = NULL, *docs = manifest_parse(yaml, strlen(yaml), &st);
	json_t *d;

	if (docs == NULL)
		fail_msg("parse: %s", manifest_status_message(st));
	assert_int_equal(json_array_size(docs), 1);
	d = json_incref(json_array_get(docs, 0));
	json_decref(docs);
	return d;
}

/* Admit yaml after applying edit (JSON merged into the object, RFC 7386). */
static json_t *
admit(const char *yaml, const char *patch, unsigned flags, int *rc)
{
	json_t *obj = one(yaml), *st = NULL;

	if (patch != NULL) {
		json_t *p = json_loads(patch, 0, NULL);

		assert_non_null(p);
		assert_int_equal(json_object_update_recursive(obj, p), 0);
		json_decref(p);
	}
	*rc = manifest_admit(obj, flags, &st);
	json_decref(obj);
	return st;
}

static void
refused(const char *yaml, const char *patch, int code, const char *msg)
{
	int rc;
	json_t *st = admit(yaml, patch, MANIFEST_STRICT, &rc);

	assert_int_equal(rc, -1);
	assert_non_null(st);
	if (manifest_status_code(st) != code ||
	    strcmp(manifest_status_message(st), msg) != 0)
		fail_msg("got %d '%s'\nwant %d '%s'", manifest_status_code(st),
		    manifest_status_message(st), code, msg);
	json_decref(st);
}

#define WH "admission webhook \"virtualmachinereplicaset-validator.kubevirt.io\" " \
	"denied the request: "

static void
test_admits_and_defaults(void **state)
{
	json_t *obj = one(vmirs_yaml), *st = NULL, *vmi;
	struct manifest_vmi_resources r;

	(void)state;
	assert_int_equal(manifest_admit(obj, MANIFEST_STRICT | MANIFEST_CREATE,
	    &st), 0);
	assert_null(st);
	assert_int_equal(manifest_kind(obj), MANIFEST_VMIRS);
	assert_int_equal(manifest_replicas(obj), 1);
	vmi = manifest_vmi_from_vmirs(obj);
	assert_non_null(vmi);
	assert_string_equal(manifest_str(vmi, "metadata.generateName"), "rs");
	assert_string_equal(manifest_str(vmi, "spec.domain.memory.guest"), "64Mi");
	assert_string_equal(manifest_str(vmi, "spec.domain.machine.type"), "q35");
	assert_string_equal(manifest_str(json_array_get(json_object_get(
	    json_object_get(vmi, "spec"), "volumes"), 0),
	    "containerDisk.imagePullPolicy"), "IfNotPresent");
	assert_string_equal(manifest_str(vmi,
	    "metadata.ownerReferences") ? "" : "array", "array");
	assert_int_equal(manifest_vmi_resources(json_object_get(vmi, "spec"),
	    &r), 0);
	assert_int_equal(r.guest_memory, 64 << 20);
	assert_int_equal(r.vcpus, 1);
	json_decref(vmi);
	json_decref(obj);
}

static void
test_vmi_defaults(void **state)
{
	json_t *spec = json_loads("{\"domain\":{\"cpu\":{\"cores\":2},"
	    "\"resources\":{\"limits\":{\"cpu\":\"2500m\",\"memory\":\"1Gi\"}}},"
	    "\"volumes\":[{\"name\":\"d\",\"emptyDisk\":{\"capacity\":\"1Gi\"}}]}",
	    0, NULL);
	struct manifest_vmi_resources r;

	(void)state;
	assert_int_equal(defaults_vmi_spec(spec), 0);
	assert_int_equal(manifest_vmi_resources(spec, &r), 0);
	/* a cpu limit without a request: request = limit */
	assert_int_equal(r.cpu_request_milli, 2500);
	assert_int_equal(r.guest_memory, 1LL << 30);
	/* partial topology: the rest is 1 */
	assert_int_equal(r.sockets, 1);
	assert_int_equal(r.cores, 2);
	assert_int_equal(r.vcpus, 2);
	json_decref(spec);
	/* no topology: sockets from the cpu limit, rounded up */
	spec = json_loads("{\"domain\":{\"resources\":{\"limits\":{\"cpu\":"
	    "\"2500m\"},\"requests\":{\"memory\":\"64Mi\"}}}}", 0, NULL);
	assert_int_equal(defaults_vmi_spec(spec), 0);
	assert_int_equal(manifest_vmi_resources(spec, &r), 0);
	assert_int_equal(r.sockets, 3);
	assert_string_equal(manifest_str(json_array_get(json_object_get(
	    json_object_get(spec, "domain"), "devices") ? json_object_get(
	    json_object_get(json_object_get(spec, "domain"), "devices"),
	    "interfaces") : NULL, 0), "name"), "default");
	assert_non_null(json_object_get(json_array_get(json_object_get(spec,
	    "networks"), 0), "pod"));
	json_decref(spec);
}

static void
test_vmirs_rules(void **state)
{
	(void)state;
	refused(vmirs_yaml, "{\"spec\":{\"template\":{\"metadata\":{\"labels\":"
	    "{\"app\":\"b\"}}}}}", 422, WH "selector does not match labels.");
	refused(vmirs_yaml, "{\"spec\":{\"template\":null}}", 422,
	    WH "missing virtual machine template.");
	refused(vmirs_yaml, "{\"spec\":{\"foo\":1}}", 400,
	    "VirtualMachineInstanceReplicaSet in version \"v1\" cannot be "
	    "handled as a VirtualMachineInstanceReplicaSet: strict decoding "
	    "error: unknown field \"spec.foo\"");
	refused(vmirs_yaml, "{\"metadata\":{\"name\":\"a_b\"}}", 422,
	    "VirtualMachineInstanceReplicaSet.kubevirt.io \"a_b\" is invalid: "
	    "metadata.name: Invalid value: \"a_b\": a lowercase RFC 1123 "
	    "subdomain must consist of lower case alphanumeric characters, '-' "
	    "or '.', and must start and end with an alphanumeric character (e.g. "
	    "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*"
	    "[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
}

static void
test_lax_prunes(void **state)
{
	json_t *obj = one(vmirs_yaml), *st = NULL, *p;

	(void)state;
	p = json_loads("{\"spec\":{\"foo\":1,\"template\":{\"spec\":{\"bar\":2}}}}",
	    0, NULL);
	json_object_update_recursive(obj, p);
	json_decref(p);
	assert_int_equal(manifest_admit(obj, 0, &st), 0);
	assert_null(json_object_get(json_object_get(obj, "spec"), "foo"));
	json_decref(obj);
}

static void
test_volume_rules(void **state)
{
	const char *eph = "{\"spec\":{\"template\":{\"spec\":{\"volumes\":[{"
	    "\"name\":\"root\",\"ephemeral\":{}}]}}}}";

	(void)state;
	refused(vmirs_yaml, eph, 422, WH "spec.template.spec.volumes[0].ephemeral "
	    "is not supported by Drover: an ephemeral volume is a copy-on-write "
	    "layer over a PersistentVolumeClaim, and Drover has no "
	    "PersistentVolumeClaims; use a containerDisk (its overlay is "
	    "ephemeral) or an emptyDisk");
	refused(vmirs_yaml, "{\"spec\":{\"template\":{\"spec\":{\"volumes\":[{"
	    "\"name\":\"root\",\"configMap\":{\"name\":\"c\"}}]}}}}", 422,
	    WH "spec.template.spec.volumes[0].configMap is not supported by "
	    "Drover: supported volume sources are containerDisk, "
	    "cloudInitNoCloud and emptyDisk");
	refused(vmirs_yaml, "{\"spec\":{\"template\":{\"spec\":{\"domain\":{"
	    "\"resources\":{\"requests\":{\"memory\":\"1x\"}}}}}}}", 422,
	    "VirtualMachineInstanceReplicaSet.kubevirt.io \"rs\" is invalid: "
	    "spec.template.spec.domain.resources.requests.memory: Invalid value: "
	    "\"1x\": spec.template.spec.domain.resources.requests.memory in body "
	    "should match '" QUANTITY_PATTERN "'");
	refused(vmirs_yaml, "{\"spec\":{\"template\":{\"spec\":{\"domain\":{"
	    "\"resources\":{\"requests\":{\"memory\":\"100k\"}}}}}}}", 422,
	    WH "spec.template.spec.domain.resources.requests.memory '100k': must "
	    "be greater than or equal to 1M.");
}

static void
test_hpa(void **state)
{
	const char *hpa = "apiVersion: autoscaling/v1\nkind: "
	    "HorizontalPodAutoscaler\nmetadata: {name: h}\nspec:\n  "
	    "scaleTargetRef: {kind: VirtualMachineInstanceReplicaSet, name: rs}\n"
	    "  maxReplicas: 2\n";
	json_t *obj = one(hpa), *st = NULL, *v2, *m0;

	(void)state;
	assert_int_equal(manifest_admit(obj, MANIFEST_STRICT, &st), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(obj,
	    "spec"), "minReplicas")), 1);
	v2 = defaults_hpa_v1_to_v2(obj);
	assert_string_equal(manifest_str(v2, "apiVersion"), "autoscaling/v2");
	m0 = json_array_get(json_object_get(json_object_get(v2, "spec"),
	    "metrics"), 0);
	assert_string_equal(manifest_str(m0, "resource.name"), "cpu");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_object_get(m0, "resource"), "target"), "averageUtilization")),
	    80);
	json_decref(v2);
	json_decref(obj);
	refused(hpa, "{\"spec\":{\"minReplicas\":3}}", 422,
	    "HorizontalPodAutoscaler.autoscaling \"h\" is invalid: "
	    "spec.maxReplicas: Invalid value: 2: must be greater than or equal "
	    "to `minReplicas`");
}

static void
test_quantity_format(void **state)
{
	static const char *const cases[][2] = {
		{ "265Mi", "265Mi" }, { "1024Mi", "1Gi" }, { "1536Mi", "1536Mi" },
		{ "0.5", "500m" }, { "1000", "1k" }, { "1200", "1200" },
		{ "100m", "100m" }, { "1G", "1G" }, { "1e3", "1e3" },
		{ "12e2", "1200" }, { "0", "0" }, { "0.5Ki", "512" },
		{ "-128Mi", "-128Mi" }, { "1.5", "1500m" }, { "0.0000000001", "1n" },
		{ "2", "2" }, { "1500m", "1500m" }, { "1Ei", "1Ei" },
	};
	struct quantity q;
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(quantity_parse(cases[i][0], &q, NULL), 0);
		assert_true(quantity_format(&q, buf, sizeof(buf)) > 0);
		if (strcmp(buf, cases[i][1]) != 0)
			fail_msg("%s -> %s, want %s", cases[i][0], buf, cases[i][1]);
	}
	assert_true(quantity_pattern_ok("265Mi"));
	assert_true(quantity_pattern_ok("+.5e-3"));
	assert_false(quantity_pattern_ok("Mi"));
	assert_false(quantity_pattern_ok("1 Mi"));
	assert_false(quantity_pattern_ok("1Ki5"));
}

static void
test_quantity_cmp(void **state)
{
	struct quantity a, b;

	(void)state;
	quantity_parse("1Gi", &a, NULL);
	quantity_parse("1024Mi", &b, NULL);
	assert_int_equal(quantity_cmp(&a, &b), 0);
	quantity_parse("1G", &b, NULL);
	assert_int_equal(quantity_cmp(&a, &b), 1);
	quantity_parse("-1", &b, NULL);
	assert_int_equal(quantity_cmp(&b, &a), -1);
}

static void
test_names(void **state)
{
	struct validate_msgs m;

	(void)state;
	validate_dns1123_label("ok-name", &m);
	assert_int_equal(m.n, 0);
	validate_dns1123_label("Bad", &m);
	assert_int_equal(m.n, 1);
	assert_non_null(strstr(m.m[0], "(e.g. 'my-name',  or '123-abc', regex"));
	validate_dns1123_label("a123456789012345678901234567890123456789012345678"
	    "901234567890123", &m);
	assert_string_equal(m.m[0], "must be no more than 63 characters");
	validate_dns1123_subdomain("a.b-c.d", &m);
	assert_int_equal(m.n, 0);
	validate_dns1123_subdomain("a..b", &m);
	assert_int_equal(m.n, 1);
	validate_qualified_name("kubevirt.io/domain", &m);
	assert_int_equal(m.n, 0);
	validate_qualified_name("/x", &m);
	assert_string_equal(m.m[0], "prefix part must be non-empty");
	validate_qualified_name("a/b/c", &m);
	assert_non_null(strstr(m.m[0], "a qualified name must consist"));
	validate_label_value("", &m);
	assert_int_equal(m.n, 0);
	validate_label_value("-x", &m);
	assert_int_equal(m.n, 1);
}

static void
test_selectors(void **state)
{
	json_t *labels = json_loads("{\"app\":\"web\",\"tier\":\"db\"}", 0, NULL);
	char err[512];
	json_t *s;
	char *str;

	(void)state;
	assert_int_equal(validate_selector_matches(NULL, labels, err,
	    sizeof(err)), 0);
	s = json_loads("{}", 0, NULL);
	assert_int_equal(validate_selector_matches(s, labels, err, sizeof(err)), 1);
	json_decref(s);
	s = json_loads("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":"
	    "[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"db\",\"a\"]},"
	    "{\"key\":\"x\",\"operator\":\"DoesNotExist\"}]}", 0, NULL);
	assert_int_equal(validate_selector_matches(s, labels, err, sizeof(err)), 1);
	str = validate_selector_string(s);
	assert_string_equal(str, "app=web,tier in (a,db),!x");
	free(str);
	json_decref(s);
	s = json_loads("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":"
	    "\"In\"}]}", 0, NULL);
	assert_int_equal(validate_selector_matches(s, labels, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "values: Invalid value: []string(nil): for "
	    "'in', 'notin' operators, values set can't be empty");
	json_decref(s);
	json_decref(labels);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admits_and_defaults),
		cmocka_unit_test(test_vmi_defaults),
		cmocka_unit_test(test_vmirs_rules),
		cmocka_unit_test(test_lax_prunes),
		cmocka_unit_test(test_volume_rules),
		cmocka_unit_test(test_hpa),
		cmocka_unit_test(test_quantity_format),
		cmocka_unit_test(test_quantity_cmp),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_selectors),
	};

	return cmocka_run_group_tests_name("config_manifest", tests, NULL, NULL);
}
