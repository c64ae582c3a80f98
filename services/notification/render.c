/* placeholder */ typedef int hk_placeholder_t;
