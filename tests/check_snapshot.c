/* check_snapshot.c — unit tests of the snapshot module (to be written). */
#include "testutil.h"

START_TEST(test_placeholder)
{
	ck_assert_int_eq(CP_OK, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("snapshot");
	tcase_add_test(tc, test_placeholder);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
